// The ledger's differential property (fast-check): random sequences of reserve, renew,
// settle, release, lapse (by advancing the clock), cap change, revoke and poisoned amounts,
// run on the store under test AND on the reference (the memory store, which runs
// ledger/ledger.ts directly). Every outcome, every record and the whole audit log must be
// identical (exact equality): the ledger is written once, and every store is held to it.
// Invariants checked on the way: no negative, NaN or fractional figure, ever; a granted
// reserve never takes spent + held past the cap; every hold ends exactly once.
import fc from 'fast-check'
import { expect, it } from 'vitest'
import type { AuditEntry } from '../audit.js'
import { KillSwitchError } from '../errors.js'
import { windowKey } from '../ledger/levels.js'
import type { AgentRecord, Store } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import { type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

type Op =
  | {
      op: 'reserve'
      amount: number
      ttl: number
      customer: boolean
      run: number
      runCap: number | undefined
    }
  | { op: 'renew'; pick: number; ttl: number }
  | { op: 'settle'; pick: number; fraction: number }
  | { op: 'release'; pick: number }
  | { op: 'tick'; ms: number }
  | { op: 'jump' }
  | { op: 'cap'; cap: number }
  | { op: 'revoke' }
  | { op: 'poison'; value: number; target: 'reserve' | 'settle' | 'cap' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      amount: fc.integer({ min: 0, max: 400 }),
      ttl: fc.integer({ min: 1, max: 50 }),
      customer: fc.boolean(),
      // 0: no run; 1: the parent run; 2: a sub-run of it.
      run: fc.integer({ min: 0, max: 2 }),
      // The call's own cap for its run: none, or one that differs from call to call (a run
      // is capped by the first call that gives one, each call by its own too).
      runCap: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('renew' as const),
      pick: fc.nat(),
      ttl: fc.integer({ min: 1, max: 50 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('settle' as const),
      pick: fc.nat(),
      // Up to 1.5x the hold: a provider may bill past the bound; the ledger records it.
      fraction: fc.double({ min: 0, max: 1.5, noNaN: true }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('cap' as const),
      cap: fc.integer({ min: 0, max: 2_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'revoke' as const }) },
  // Across a minute window's boundary.
  { weight: 1, arbitrary: fc.constant({ op: 'jump' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('poison' as const),
      value: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -100, 0.5, 1e21, -0.000001),
      target: fc.constantFrom('reserve' as const, 'settle' as const, 'cap' as const),
    }),
  },
)

const money = (agent: AgentRecord | undefined) =>
  agent && {
    status: agent.status,
    capMicros: agent.capMicros,
    spentMicros: agent.spentMicros,
    heldMicros: agent.heldMicros,
    unreconciledMicros: agent.unreconciledMicros,
  }

function expectWholeMicros(agent: AgentRecord): void {
  for (const value of [
    agent.spentMicros,
    agent.heldMicros,
    agent.unreconciledMicros,
    agent.capMicros,
  ]) {
    expect(Number.isSafeInteger(value) && value >= 0).toBe(true)
  }
}

/** Runs `run` on a store, turning a thrown kill switch error into data to compare. */
async function outcome(run: () => unknown): Promise<unknown> {
  try {
    const result = (await run()) as Record<string, unknown> | undefined
    if (result && typeof result === 'object') {
      const { agent, ...rest } = result as { agent?: AgentRecord }
      return { ...rest, agent: money(agent) }
    }
    return result
  } catch (error) {
    if (KillSwitchError.isInstance(error))
      return { error: error.code, field: (error as { field?: string }).field }
    throw error
  }
}

export function ledgerProperty(context: SuiteContext, runs: number): void {
  it('runs every transition exactly as the reference ledger does (differential, random sequences)', async () => {
    const store = await context.open()
    const reference = memoryStore()
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2_000 }),
        fc.array(opArb, { maxLength: 40 }),
        fc.record({
          agentMinute: fc.integer({ min: 0, max: 1_500 }),
          teamMinute: fc.integer({ min: 0, max: 1_500 }),
          teamLifetime: fc.integer({ min: 0, max: 3_000 }),
          customerMonth: fc.integer({ min: 0, max: 1_000 }),
        }),
        async (cap, ops, limits) => {
          const handle = uniqueHandle('diff')
          const team = `${handle}-team`
          const customer = `${handle}-customer`
          let now = 1_000
          for (const target of [store, reference]) {
            await target.createAgent(testAgentRecord(handle, cap))
            await target.createBudget({
              id: team,
              limits: [
                { amountMicros: limits.teamMinute, per: 'minute' },
                { amountMicros: limits.teamLifetime, per: 'lifetime' },
              ],
              createdAt: now,
              updatedAt: now,
            })
            await target.createBudget({
              id: customer,
              limits: [{ amountMicros: limits.customerMonth, per: 'month' }],
              createdAt: now,
              updatedAt: now,
            })
            await target.updateAgent(
              handle,
              { limits: [{ amountMicros: limits.agentMinute, per: 'minute' }], budgets: [team] },
              now,
            )
          }
          const usageKeys = () => [
            windowKey('agent', handle, { amountMicros: 0, per: 'minute' }, now),
            windowKey('budget', team, { amountMicros: 0, per: 'minute' }, now),
            windowKey('budget', team, { amountMicros: 0, per: 'lifetime' }, now),
            windowKey('budget', customer, { amountMicros: 0, per: 'month' }, now),
            `budget:run:${handle}/lifetime@0`,
            `budget:run:${handle}-sub/lifetime@0`,
          ]
          // The run of a reserve: the parent run, or a sub-run of it, capped by the call.
          const runOf = (item: { run: number; runCap: number | undefined }) => {
            if (item.run === 0) return {}
            const capMicros = item.runCap === undefined ? {} : { capMicros: item.runCap }
            return item.run === 1
              ? { run: { id: handle, ...capMicros } }
              : { run: { id: `${handle}-sub`, parentId: handle, ...capMicros } }
          }
          const runBudgets = async (target: Store) =>
            Promise.all([`run:${handle}`, `run:${handle}-sub`].map((id) => target.getBudget(id)))
          let next = 0
          const ids: string[] = []
          const both = async (run: (target: Store) => unknown) => {
            const mine = await outcome(() => run(store))
            const theirs = await outcome(() => run(reference))
            expect(mine).toEqual(theirs)
            return theirs as Record<string, unknown> | undefined
          }
          const audit = (type: AuditEntry['type'], holdId: string): AuditEntry => ({
            at: now,
            handle,
            type,
            summary: `${type} ${holdId}`,
            data: { holdId },
          })
          for (const item of ops) {
            const pick = (n: number) => ids[n % Math.max(1, ids.length)] ?? 'none'
            if (item.op === 'reserve') {
              const holdId = `h${next++}`
              ids.push(holdId)
              const result = await both((s) =>
                s.reserve({
                  handle,
                  holdId,
                  amountMicros: item.amount,
                  ttlMs: item.ttl,
                  now,
                  audit: audit('hold', holdId),
                  // Some say what they are for: a lapse names it, in every store alike.
                  ...(item.amount % 3 === 0 ? { label: `model "${item.amount}" é` } : {}),
                  ...(item.customer ? { budgets: [customer] } : {}),
                  ...runOf(item),
                }),
              )
              if (result?.ok) {
                const agent = result.agent as AgentRecord
                expect(agent.spentMicros + agent.heldMicros).toBeLessThanOrEqual(agent.capMicros)
              }
            } else if (item.op === 'renew') {
              const holdId = pick(item.pick)
              await both((s) => s.renew({ handle, holdId, ttlMs: item.ttl, now }))
            } else if (item.op === 'settle') {
              const holdId = pick(item.pick)
              const cost = Math.floor(400 * item.fraction)
              await both((s) =>
                s.settle({
                  handle,
                  holdId,
                  costMicros: cost,
                  now,
                  audit: audit('settled', holdId),
                }),
              )
            } else if (item.op === 'release') {
              const holdId = pick(item.pick)
              await both((s) =>
                s.release({ handle, holdId, now, audit: audit('released', holdId) }),
              )
            } else if (item.op === 'tick') {
              now += item.ms
            } else if (item.op === 'jump') {
              now += 30_000
            } else if (item.op === 'cap') {
              await both((s) => s.updateAgent(handle, { capMicros: item.cap }, now))
            } else if (item.op === 'revoke') {
              await both((s) => s.revokeAgent(handle, 'property', now))
            } else {
              const before = money(await reference.getAgent(handle, now))
              const result = await both((s) =>
                item.target === 'reserve'
                  ? s.reserve({
                      handle,
                      holdId: `p${next++}`,
                      amountMicros: item.value,
                      ttlMs: 10,
                      now,
                    })
                  : item.target === 'settle'
                    ? s.settle({ handle, holdId: pick(0), costMicros: item.value, now })
                    : s.updateAgent(handle, { capMicros: item.value }, now),
              )
              expect(result).toMatchObject({ error: 'invalid_config' })
              expect(money(await store.getAgent(handle, now))).toEqual(before)
            }
            const mine = await store.getAgent(handle, now)
            const theirs = await reference.getAgent(handle, now)
            expect(money(mine)).toEqual(money(theirs))
            if (mine) expectWholeMicros(mine)
            expect(await runBudgets(store)).toEqual(await runBudgets(reference))
            const usage = await store.readUsage(usageKeys())
            expect(usage).toEqual(await reference.readUsage(usageKeys()))
            for (const window of usage) {
              expect(Number.isSafeInteger(window.spentMicros) && window.heldMicros >= 0).toBe(true)
            }
          }
          // Let every live hold lapse: then every hold has ended exactly once.
          now += 1_000
          expect(money(await store.getAgent(handle, now))).toEqual(
            money(await reference.getAgent(handle, now)),
          )
          // `seq` is each store's own cursor (global in sqlite, per agent in memory): the
          // entries themselves must be identical.
          const content = (entries: AuditEntry[]) => entries.map(({ seq: _seq, ...entry }) => entry)
          const log = await store.readAudit(handle)
          expect(content(log)).toEqual(content(await reference.readAudit(handle)))
          const ends = new Map<string, number>()
          for (const entry of log) {
            const id = String(entry.data.holdId)
            const first =
              entry.type === 'lapsed' ||
              (entry.type === 'settled' && entry.data.outcome === 'settled') ||
              (entry.type === 'released' && entry.data.outcome === 'released')
            if (first) ends.set(id, (ends.get(id) ?? 0) + 1)
          }
          for (const entry of log.filter((e) => e.type === 'hold')) {
            expect(ends.get(String(entry.data.holdId))).toBe(1)
          }
          expect((await store.getAgent(handle, now))?.heldMicros).toBe(0)
        },
      ),
      { numRuns: runs },
    )
    await reference.close()
  })
}
