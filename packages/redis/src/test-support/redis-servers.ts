import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { type RedisCluster, startRedisCluster } from './start-redis-cluster.js'
import { type RedisServer, startRedisServer } from './start-redis-server.js'

/**
 * One real Redis and one real Redis Cluster for a test file: started before its tests,
 * stopped after them. Read the fields inside tests (they are set by then).
 */
export function useRedisServers(): { redis: RedisServer; cluster: RedisCluster } {
  const servers = {} as { redis: RedisServer; cluster: RedisCluster }
  beforeAll(async () => {
    ;[servers.redis, servers.cluster] = await Promise.all([startRedisServer(), startRedisCluster()])
  }, 30_000)
  afterAll(async () => {
    await Promise.all([servers.redis?.dispose(), servers.cluster?.dispose()])
  })
  return servers
}

/**
 * One real Redis for a test file and an admin client on it (to look at keys directly):
 * started before its tests, stopped after them.
 */
export function useRedisServer(): { redis: RedisServer; admin: Redis } {
  const server = {} as { redis: RedisServer; admin: Redis }
  beforeAll(async () => {
    server.redis = await startRedisServer()
    server.admin = new Redis(server.redis.url)
  })
  afterAll(async () => {
    server.admin?.disconnect()
    await server.redis?.dispose()
  })
  return server
}
