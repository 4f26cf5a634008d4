// Random interleavings on a real Redis Cluster: batches of reserves, settles and releases run
// concurrently over three agents and two budgets (one the other's parent), each on its own
// slot, with the clock moved across window boundaries between batches. Audit order across
// slots is not compared here (the sequential differential of the conformance suite compares
// it); the money invariants are: no level is ever overspent, every hold ends once, and once
// every hold has ended the figures of every window are exactly the sum of the charges of the
// holds taken in it.
import { randomUUID } from 'node:crypto'
import { testAgentRecord } from '@killswitch/core/conformance'
import fc from 'fast-check'
import { Redis } from 'ioredis'
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

const MINUTE = 60_000
const opArb = fc.oneof(
  fc.record({
    op: fc.constant('reserve' as const),
    agent: fc.integer({ min: 0, max: 2 }),
    amount: fc.integer({ min: 0, max: 400 }),
    ttl: fc.integer({ min: 1, max: 90_000 }),
  }),
  fc.record({
    op: fc.constant('settle' as const),
    pick: fc.nat(),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
)
const batchArb = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 12 }),
  advance: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 50_000, max: 130_000 })),
})

interface Hold {
  id: string
  handle: string
  amount: number
  levels: readonly string[]
  ended: boolean
  charged: number
}

describe('redisStore on a Redis Cluster: random concurrent interleavings', () => {
  it('never overspends a level, ends every hold once, and adds up exactly after quiescence', {
    timeout: 240_000,
  }, async () => {
    const store = redisStore({
      cluster: { nodes: cluster.nodes },
      prefix: `prop-${randomUUID()}:`,
      clock: 'caller',
    })
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 200, max: 3_000 }), { minLength: 3, maxLength: 3 }),
        async (batches, caps) => {
          const tag = `r${run++}`
          const handles = [0, 1, 2].map((i) => `${tag}-agent-${i}`)
          const team = `${tag}-team`
          const org = `${tag}-org`
          let now = 10 * MINUTE + 1
          // Settles of holds already released: money reported spent, on the agent only.
          const late = new Map<string, number>()
          await store.createBudget({
            id: org,
            limits: [{ amountMicros: 2_500, per: 'lifetime' }],
            createdAt: now,
            updatedAt: now,
          })
          await store.createBudget({
            id: team,
            limits: [{ amountMicros: 700, per: 'minute' }],
            parentId: org,
            createdAt: now,
            updatedAt: now,
          })
          for (const [i, handle] of handles.entries()) {
            await store.createAgent(testAgentRecord(handle, caps[i] as number, now))
            await store.updateAgent(
              handle,
              { limits: [{ amountMicros: 500, per: 'minute' }], budgets: [i === 2 ? org : team] },
              now,
            )
          }
          const holds: Hold[] = []
          const limitOf = (key: string) => {
            if (key.startsWith('agent:')) return 500
            return key.startsWith(`budget:${team}/`) ? 700 : 2_500
          }
          const checkNoOverspend = async () => {
            const keys = [...new Set(holds.flatMap((hold) => hold.levels))]
            const usage = await store.readUsage(keys)
            keys.forEach((key, i) => {
              const { spentMicros, heldMicros } = usage[i] as {
                spentMicros: number
                heldMicros: number
              }
              expect(heldMicros).toBeGreaterThanOrEqual(0)
              expect(spentMicros + heldMicros).toBeLessThanOrEqual(limitOf(key))
            })
            for (const [i, handle] of handles.entries()) {
              const agent = await store.getAgent(handle, now)
              expect((agent?.spentMicros ?? 0) + (agent?.heldMicros ?? 0)).toBeLessThanOrEqual(
                caps[i] as number,
              )
            }
          }
          /** What each settled hold's agent was last charged for it (a raise adds the rest). */
          const settledAt = new Map<string, number>()
          /** Holds whose lapse a settle corrected: they keep their windows for a raise. */
          const corrected = new Set<string>()
          let next = 0
          for (const batch of batches) {
            await Promise.all(
              batch.ops.map(async (item) => {
                if (item.op === 'reserve') {
                  const handle = handles[item.agent] as string
                  const id = `${tag}-h${next++}`
                  const result = await store.reserve({
                    handle,
                    holdId: id,
                    amountMicros: item.amount,
                    ttlMs: item.ttl,
                    now,
                  })
                  if (result.ok) {
                    holds.push({
                      id,
                      handle,
                      amount: item.amount,
                      levels: result.levels,
                      ended: false,
                      charged: 0,
                    })
                  } else if (result.reason === 'cap') {
                    // A refusal names a level the agent really draws on.
                    const { level, budgetId } = result.refusal ?? {}
                    expect(level === 'agent' || budgetId === team || budgetId === org).toBe(true)
                  }
                  return
                }
                const hold = holds[item.pick % Math.max(1, holds.length)]
                if (!hold) return
                if (item.op === 'settle') {
                  const cost = Math.floor(hold.amount * item.fraction)
                  const { outcome } = await store.settle({
                    handle: hold.handle,
                    holdId: hold.id,
                    costMicros: cost,
                    now,
                  })
                  if (outcome === 'late') late.set(hold.handle, (late.get(hold.handle) ?? 0) + cost)
                  // A higher figure for a settled hold raises it: in its windows too when it
                  // kept them (a lapse's correction), else on the agent only.
                  if (outcome === 'raised') {
                    const raise = cost - (settledAt.get(hold.id) ?? 0)
                    if (corrected.has(hold.id)) hold.charged = cost
                    else late.set(hold.handle, (late.get(hold.handle) ?? 0) + raise)
                  }
                  if (outcome === 'corrected') corrected.add(hold.id)
                  if (outcome !== 'duplicate') settledAt.set(hold.id, cost)
                  if (outcome === 'settled' || outcome === 'corrected') {
                    expect(hold.ended && outcome === 'settled').toBe(false)
                    hold.ended = true
                    hold.charged = cost
                  }
                } else {
                  const { outcome } = await store.release({
                    handle: hold.handle,
                    holdId: hold.id,
                    now,
                  })
                  if (outcome === 'released') {
                    hold.ended = true
                    hold.charged = 0
                  }
                }
              }),
            )
            await checkNoOverspend()
            now += batch.advance
          }
          // Quiescence: every live hold lapses (charged in full) once the clock passes them.
          now += 200_000
          for (const handle of handles) await store.getAgent(handle, now)
          const lapsed = new Set(
            (await Promise.all(handles.map((handle) => store.readAudit(handle))))
              .flat()
              .filter((entry) => entry.type === 'lapsed')
              .map((entry) => String((entry.data as { holdId: string }).holdId)),
          )
          for (const hold of holds) {
            if (!hold.ended) {
              expect(lapsed.has(hold.id)).toBe(true)
              hold.charged = hold.amount
              hold.ended = true
            }
          }
          const keys = [...new Set(holds.flatMap((hold) => hold.levels))]
          const usage = await store.readUsage(keys)
          keys.forEach((key, i) => {
            const expected = holds
              .filter((hold) => hold.levels.includes(key))
              .reduce((sum, hold) => sum + hold.charged, 0)
            expect(usage[i]).toEqual({ spentMicros: expected, heldMicros: 0 })
          })
          for (const handle of handles) {
            const agent = await store.getAgent(handle, now)
            const charged = holds
              .filter((hold) => hold.handle === handle)
              .reduce((sum, hold) => sum + hold.charged, 0)
            expect(agent?.heldMicros).toBe(0)
            expect(agent?.spentMicros).toBe(charged + (late.get(handle) ?? 0))
          }
        },
      ),
      { numRuns: 25 },
    )
    await store.close()
    await expectEveryKeyOnItsNode()
  })
})

/**
 * Every key sits on the node that serves its slot: no script wrote a key of a slot other than
 * the one it was sent to (Redis does not check keys a script names itself).
 */
async function expectEveryKeyOnItsNode() {
  let keysSeen = 0
  for (const node of cluster.nodes) {
    const redis = new Redis(node)
    try {
      const ranges = (
        (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
      )
        .filter(([, , [, port]]) => port === node.port)
        .map(([from, to]) => [from, to] as const)
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'COUNT', 1000)
        cursor = next
        for (const key of keys) {
          const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key))
          expect({ key, served: ranges.some(([from, to]) => slot >= from && slot <= to) }).toEqual({
            key,
            served: true,
          })
          keysSeen++
        }
      } while (cursor !== '0')
    } finally {
      redis.disconnect()
    }
  }
  expect(keysSeen).toBeGreaterThan(0)
}
