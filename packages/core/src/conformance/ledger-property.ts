// The ledger's invariants over random interleavings (fast-check): a granted hold never takes
// spent + held past the cap, held always equals the live holds, revocation refuses.
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

export function ledgerProperty(context: SuiteContext, runs: number): void {
  it('keeps spent + held <= cap and held = live holds over random interleavings', async () => {
    const store = await context.open()
    type Op =
      | { op: 'reserve'; amount: number; ttl: number }
      | { op: 'settle'; pick: number; fraction: number }
      | { op: 'release'; pick: number }
      | { op: 'tick'; ms: number }
      | { op: 'cap'; cap: number }
      | { op: 'revoke' }
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          op: fc.constant('reserve' as const),
          amount: fc.integer({ min: 0, max: 400 }),
          ttl: fc.integer({ min: 1, max: 50 }),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant('settle' as const),
          pick: fc.nat(),
          fraction: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          op: fc.constant('tick' as const),
          ms: fc.integer({ min: 0, max: 30 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('cap' as const),
          cap: fc.integer({ min: 0, max: 2_000 }),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ op: 'revoke' as const }) },
    )
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2_000 }),
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { maxLength: 25 }),
        async (cap, batches) => {
          const handle = uniqueHandle('prop')
          await store.createAgent(testAgentRecord(handle, cap))
          let now = 1_000
          let capNow = cap
          let revoked = false
          let spentModel = 0
          const live = new Map<string, { amount: number; expiresAt: number }>()
          let next = 0
          for (const batch of batches) {
            // Operations in a batch run concurrently: the store must stay consistent.
            const runs = batch.map(async (item) => {
              if (item.op === 'reserve') {
                const holdId = `p${next++}`
                const expiresAt = now + item.ttl
                // A revocation issued before this reserve must refuse it.
                const revokedBefore = revoked
                const result = await store.reserve({
                  handle,
                  holdId,
                  amountMicros: item.amount,
                  expiresAt,
                  now,
                })
                if (result.ok) {
                  expect(revokedBefore).toBe(false)
                  // The atomic invariant: a granted hold never takes spent + held past the cap.
                  expect(result.agent.spentMicros + result.agent.heldMicros).toBeLessThanOrEqual(
                    result.agent.capMicros,
                  )
                  expect(
                    result.agent.capMicros -
                      result.agent.spentMicros -
                      result.agent.heldMicros +
                      item.amount,
                  ).toBeGreaterThan(0)
                  live.set(holdId, { amount: item.amount, expiresAt })
                }
              } else if (item.op === 'settle' || item.op === 'release') {
                const ids = [...live.keys()]
                if (ids.length === 0) return
                const holdId = ids[item.pick % ids.length] as string
                const hold = live.get(holdId)
                if (!hold) return
                live.delete(holdId)
                if (hold.expiresAt <= now) return
                if (item.op === 'settle') {
                  const cost = Math.floor(hold.amount * item.fraction)
                  const result = await store.settle({ handle, holdId, costMicros: cost, now })
                  expect(result.outcome).toBe('settled')
                  spentModel += cost
                } else {
                  expect((await store.release({ handle, holdId, now })).outcome).toBe('released')
                }
              } else if (item.op === 'tick') {
                now += item.ms
              } else if (item.op === 'cap') {
                capNow = item.cap
                await store.updateAgent(handle, { capMicros: item.cap }, now)
              } else {
                revoked = true
                await store.revokeAgent(handle, 'property test', now)
              }
            })
            await Promise.all(runs)
            const agent = await store.getAgent(handle, now)
            if (!agent) throw new Error('agent vanished')
            for (const [id, hold] of live) if (hold.expiresAt <= now) live.delete(id)
            const liveSum = [...live.values()].reduce((sum, hold) => sum + hold.amount, 0)
            expect(agent.heldMicros).toBe(liveSum)
            expect(agent.spentMicros).toBe(spentModel)
            expect(agent.capMicros).toBe(capNow)
          }
        },
      ),
      { numRuns: runs },
    )
  })
}
