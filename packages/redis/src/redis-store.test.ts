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
// connections) on the same keys, as another process would be. The suite steps the clock
// itself (request.now), so it runs on the caller's clock; the server's clock is tested in
// redis-store.clock.test.ts.
const prefix = `killswitch-test-${randomUUID()}:`
// Cases may ask for options every store has (the audit retention): passed on.
const open = (options?: { auditRetentionMs?: number }) =>
  redisStore({ url: redis.url, prefix, clock: 'caller', ...options })
describeStoreConformance('redis', open, { openPeer: () => open(), propertyRuns: 40 })
