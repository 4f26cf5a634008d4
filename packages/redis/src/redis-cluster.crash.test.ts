// A process that dies in the middle of a cluster reserve: its hold is taken on the agent's
// slot and on the budget's slot, and the confirm never comes. Nothing is left held forever:
// the agent's slot lapses the hold (charged in full, as any lapse), and the budget's slot
// charges its share itself once the lease plus the longest lease has passed.
import { randomUUID } from 'node:crypto'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { holdBudgets } from './redis-cluster-ledger.js'
import { clusterKeys } from './redis-keys.js'
import { scriptCalls } from './redis-script-calls.js'
import { SCRIPTS } from './redis-scripts.js'
import { CLUSTER_SCRIPTS } from './redis-scripts-cluster.js'
import { redisStore } from './redis-store.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster()
}, 30_000)
afterAll(async () => {
  await cluster?.dispose()
})

const WEEK = 7 * 86_400_000

it('charges a hold whose reserve died between the budget and the confirm, on every level, once', async () => {
  const prefix = `crash-${randomUUID()}:`
  const store = redisStore({ cluster: { nodes: cluster.nodes }, prefix, clock: 'caller' })
  const now = 1_000_000
  await store.createBudget({
    id: 'team',
    limits: [{ amountMicros: 1_000_000, per: 'lifetime' }],
    createdAt: now,
    updatedAt: now,
  })
  for (const handle of ['dies', 'lives']) {
    await store.createAgent(testAgentRecord(handle, 5_000_000, now))
    await store.updateAgent(handle, { budgets: ['team'] }, now)
  }

  // The dying process: the agent's step and the budget's step, by hand, and nothing after.
  const raw = new Cluster(cluster.nodes)
  for (const [name, definition] of Object.entries({ ...SCRIPTS, ...CLUSTER_SCRIPTS })) {
    raw.defineCommand(name, definition)
  }
  const keys = clusterKeys(prefix)
  const calls = scriptCalls({
    keys,
    origin: 'dying',
    clock: 'caller',
    holdRetentionMs: 86_400_000,
    maxAuditEntriesPerAgent: 1_000,
  })
  const request = { handle: 'dies', holdId: 'h1', amountMicros: 300_000, ttlMs: 60_000, now }
  const send = (call: { name: string; keys: string[]; args: (string | number)[] }) =>
    (raw as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[call.name]?.(
      ...call.keys,
      ...call.args,
    )
  const step = calls.reserve(request, '{}')
  const [partial] = (await send({
    name: 'killswitchCReserveV1',
    keys: [...step.keys, keys.pending('dies'), keys.outbox('dies')],
    args: step.args,
  })) as [unknown[]]
  expect(partial[0]).toBe('partial')
  const held = await holdBudgets(
    {
      keys,
      send: (_operation, call) => send(call) as Promise<unknown>,
      header: (at) => calls.header(at),
      zones: () => '{}',
      refresh: () => {},
    },
    request,
    partial[4] as string[],
    String(partial[6]),
    Number(partial[5]),
  )
  expect(held.held).toEqual(['budget:team/lifetime@0'])
  raw.disconnect()
  expect(await store.readUsage(['budget:team/lifetime@0'])).toEqual([
    { spentMicros: 0, heldMicros: 300_000 },
  ])

  // Within the lease plus the longest lease, the budget keeps it held (the owner may still be
  // alive and confirm); the agent lapses it at the end of its lease.
  const later = now + 60_000 + WEEK
  const agent = await store.getAgent('dies', later - 1)
  expect(agent).toMatchObject({ spentMicros: 300_000, heldMicros: 0, unreconciledMicros: 300_000 })
  const before = await store.reserve({
    handle: 'lives',
    holdId: 'x1',
    amountMicros: 700_001,
    ttlMs: 1_000,
    now: later - 1,
  })
  expect(before.ok).toBe(false)

  // Past it, the budget's slot charges its share itself: spent, no longer held, and the room
  // left is exactly what is left of the budget.
  const after = await store.reserve({
    handle: 'lives',
    holdId: 'x2',
    amountMicros: 700_000,
    ttlMs: 1_000,
    now: later,
  })
  expect(after.ok).toBe(true)
  await store.release({ handle: 'lives', holdId: 'x2', now: later })
  expect(await store.readUsage(['budget:team/lifetime@0'])).toEqual([
    { spentMicros: 300_000, heldMicros: 0 },
  ])
  // A late settlement of the dead hold corrects the agent, once. Its budgets keep the charge
  // at its bound: the agent's slot never learned which budget windows the hold reached (the
  // confirm that tells it never ran), so it cannot reach them. Charged, never lost.
  expect(
    (await store.settle({ handle: 'dies', holdId: 'h1', costMicros: 100_000, now: later })).outcome,
  ).toBe('corrected')
  expect((await store.getAgent('dies', later))?.spentMicros).toBe(100_000)
  expect(await store.readUsage(['budget:team/lifetime@0'])).toEqual([
    { spentMicros: 300_000, heldMicros: 0 },
  ])
  await store.close()
}, 60_000)
