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
const open = () => redisStore({ cluster: { nodes: cluster.nodes }, prefix, clock: 'caller' })
describeStoreConformance('redis cluster', open, { openPeer: open, propertyRuns: 40 })
