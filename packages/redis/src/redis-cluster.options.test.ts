// The cluster option at the boundary, and a cluster on the default clock (Redis's own TIME,
// each node's): a reservation over the agent's slot and a budget's slot, settled on both.
import { randomUUID } from 'node:crypto'
import { InvalidConfigError } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster()
}, 30_000)
afterAll(async () => {
  await cluster?.dispose()
})

const fieldOf = (make: () => unknown) => {
  try {
    make()
  } catch (error) {
    expect(InvalidConfigError.isInstance(error)).toBe(true)
    return (error as { field?: string }).field
  }
  throw new Error('accepted')
}

describe('redisStore({ cluster })', () => {
  it('refuses bad cluster options with the field named', () => {
    expect(fieldOf(() => redisStore({ cluster: { nodes: [] } }))).toBe('cluster.nodes')
    expect(fieldOf(() => redisStore({ cluster: { nodes: ['http://x:1'] } }))).toBe(
      'cluster.nodes.0',
    )
    expect(fieldOf(() => redisStore({ cluster: { nodes: [{ host: 'h', port: 70_000 }] } }))).toBe(
      'cluster.nodes.0',
    )
    expect(
      fieldOf(() => redisStore({ cluster: { nodes: cluster.nodes }, url: 'redis://x:1' })),
    ).toBe('url')
    expect(fieldOf(() => redisStore({ cluster: { nodes: cluster.nodes }, prefix: 'a{b}:' }))).toBe(
      'prefix',
    )
  })

  it("holds and settles across slots on Redis's own clock", async () => {
    const store = redisStore({
      cluster: { nodes: cluster.nodes.map((node) => `redis://${node.host}:${node.port}`) },
      prefix: `clock-${randomUUID()}:`,
    })
    const now = Date.now()
    await store.createBudget({
      id: 'team',
      limits: [{ amountMicros: 1_000, per: 'day' }],
      createdAt: now,
      updatedAt: now,
    })
    await store.createAgent(testAgentRecord('agent', 5_000, now))
    await store.updateAgent('agent', { budgets: ['team'] }, now)
    const held = await store.reserve({
      handle: 'agent',
      holdId: 'h1',
      amountMicros: 800,
      ttlMs: 60_000,
      now,
    })
    expect(held.ok).toBe(true)
    const levels = held.ok ? held.levels : []
    expect(levels).toHaveLength(1)
    expect(levels[0]).toMatch(/^budget:team\/day@\d+$/)
    const refused = await store.reserve({
      handle: 'agent',
      holdId: 'h2',
      amountMicros: 201,
      ttlMs: 60_000,
      now,
    })
    expect(refused).toMatchObject({ ok: false, refusal: { level: 'budget', budgetId: 'team' } })
    await store.settle({ handle: 'agent', holdId: 'h1', costMicros: 500, now })
    expect(await store.readUsage(levels)).toEqual([{ spentMicros: 500, heldMicros: 0 }])
    expect(await store.getAgent('agent', now)).toMatchObject({ spentMicros: 500, heldMicros: 0 })
    await store.close()
  })
})
