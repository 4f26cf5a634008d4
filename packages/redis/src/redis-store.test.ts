import { randomUUID } from 'node:crypto'
import { describeStoreConformance } from '@killswitch/core/conformance'
import { afterAll, beforeAll } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.dispose()
})

// One prefix per run: every test opens stores on it, and the peer is a second store (its own
// connections) on the same keys, as another process would be.
const prefix = `killswitch-test-${randomUUID()}:`
describeStoreConformance('redis', () => redisStore({ url: redis.url, prefix }), {
  openPeer: () => redisStore({ url: redis.url, prefix }),
  propertyRuns: 40,
})
