import { randomUUID } from 'node:crypto'
import { describeStoreConformance } from '@killswitch/core/conformance'
import { afterAll, beforeAll } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster()
}, 30_000)
afterAll(async () => {
  await cluster?.dispose()
})

const prefix = `killswitch-test-${randomUUID()}:`
// Cases may ask for options every store has (the audit retention): passed on.
const open = (options?: { auditRetentionMs?: number }) =>
  redisStore({ cluster: { nodes: cluster.nodes }, prefix, clock: 'caller', ...options })
describeStoreConformance('redis cluster', open, { openPeer: () => open(), propertyRuns: 40 })
