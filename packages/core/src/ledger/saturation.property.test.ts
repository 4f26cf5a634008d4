// Running totals saturate (ledger-input.ts MAX_TOTAL_MICROS): random sequences of reserves,
// settles of up to $1 billion each, releases, lapses and grants, on the memory store (the
// ledger itself) and on sqlite, which cannot read an integer past 2^53 back. After every step
// every figure is a safe integer within its bounds, and both stores agree exactly. (The
// conformance cases pin the same rule on Redis: ledger-cases.ts.)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, expect, it } from 'vitest'
import { testAgentRecord } from '../conformance.js'
import type { AgentRecord, Store, UsageRecord } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import { sqliteStore } from '../stores/sqlite-store.js'
import { MAX_MICROS, MAX_TOTAL_MICROS } from './ledger-input.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-saturation-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

type Op =
  | { op: 'reserve'; amount: number; ttl: number }
  | { op: 'settle'; pick: number; cost: number }
  | { op: 'release'; pick: number }
  | { op: 'tick'; ms: number }
  | { op: 'grant'; amount: number }

// Amounts up to the ledger's largest, often exactly it: totals reach the bound in a few steps.
const big = fc.oneof(
  { weight: 2, arbitrary: fc.constant(MAX_MICROS) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_MICROS }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1_000 }) },
)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      // Mostly small, so that most are granted and their settles land in the windows too.
      amount: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 1_000_000 }) }, big),
      ttl: fc.integer({ min: 1, max: 50 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('settle' as const), pick: fc.nat(), cost: big }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('grant' as const), amount: big }) },
)

function expectBounded(agent: AgentRecord | undefined, usage: UsageRecord[]): void {
  if (!agent) throw new Error('the agent is gone')
  const { spentMicros, heldMicros, unreconciledMicros } = agent
  for (const figure of [spentMicros, heldMicros, unreconciledMicros]) {
    expect(Number.isSafeInteger(figure)).toBe(true)
  }
  // Unreconciled is part of spent; nothing negative, nothing past the bound.
  expect(0 <= unreconciledMicros && unreconciledMicros <= spentMicros).toBe(true)
  expect(spentMicros <= MAX_TOTAL_MICROS && 0 <= heldMicros && heldMicros <= MAX_TOTAL_MICROS).toBe(
    true,
  )
  for (const window of usage) {
    expect(
      Number.isSafeInteger(window.spentMicros) && Number.isSafeInteger(window.heldMicros),
    ).toBe(true)
    expect(0 <= window.spentMicros && window.spentMicros <= MAX_TOTAL_MICROS).toBe(true)
    expect(window.heldMicros >= 0).toBe(true)
  }
}

it('keeps every total a safe integer within MAX_TOTAL_MICROS, identically on memory and sqlite', async () => {
  let files = 0
  // Runs whose agent reached the bound: the property must have been exercised there.
  let reached = 0
  await fc.assert(
    fc.asyncProperty(
      big,
      big,
      fc.array(opArb, { minLength: 40, maxLength: 80 }),
      async (cap, budgetLimit, ops) => {
        const stores: Store[] = [memoryStore(), sqliteStore(join(root, `${files++}.db`))]
        try {
          const handle = 'whale'
          const team = 'team'
          const keys = [`agent:${handle}/lifetime@0`, `budget:${team}/lifetime@0`]
          for (const store of stores) {
            await store.createBudget({
              id: team,
              limits: [{ amountMicros: budgetLimit, per: 'lifetime' }],
              createdAt: 1_000,
              updatedAt: 1_000,
            })
            await store.createAgent(testAgentRecord(handle, cap))
            await store.updateAgent(
              handle,
              { limits: [{ amountMicros: MAX_MICROS, per: 'lifetime' }], budgets: [team] },
              1_000,
            )
          }
          const holds: string[] = []
          let hit = false
          let now = 1_000
          for (const [i, op] of ops.entries()) {
            const results: unknown[] = []
            for (const store of stores) {
              if (op.op === 'reserve') {
                const held = await store.reserve({
                  handle,
                  holdId: `h${i}`,
                  amountMicros: op.amount,
                  ttlMs: op.ttl,
                  now,
                })
                results.push({ ok: held.ok, agent: held.agent })
              } else if (op.op === 'settle') {
                // One in a few is for a hold never taken: a late settle, on the agent only.
                const holdId = holds[op.pick % (holds.length + 1)] ?? `late${i}`
                results.push(await store.settle({ handle, holdId, costMicros: op.cost, now }))
              } else if (op.op === 'release') {
                const holdId = holds[op.pick % (holds.length + 1)] ?? `none${i}`
                results.push(await store.release({ handle, holdId, now }))
              } else if (op.op === 'grant') {
                const id = `a${i}`
                await store.openApproval({
                  id,
                  handle,
                  requestedMicros: op.amount,
                  reason: 'more',
                  ttlMs: 60_000,
                  now,
                })
                results.push(
                  await store.decideApproval({
                    id,
                    status: 'approved',
                    by: 'ops',
                    grant: { amountMicros: op.amount, ttlMs: 60_000 },
                    now,
                  }),
                )
              }
            }
            if (op.op === 'reserve') holds.push(`h${i}`)
            if (op.op === 'tick') now += op.ms
            const [reference, sqlite] = await Promise.all(
              stores.map(async (store) => ({
                agent: await store.getAgent(handle, now),
                usage: await store.readUsage(keys),
              })),
            )
            expect(results[1]).toEqual(results[0])
            expect(sqlite).toEqual(reference)
            expectBounded(reference?.agent, reference?.usage ?? [])
            if (reference?.agent?.spentMicros === MAX_TOTAL_MICROS) hit = true
          }
          if (hit) reached++
        } finally {
          await Promise.all(stores.map((store) => store.close()))
        }
      },
    ),
    { numRuns: 60 },
  )
  console.log('REACHED', reached)
  expect(reached).toBeGreaterThan(10)
}, 60_000)
