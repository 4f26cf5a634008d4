// The shared poll behind the console's live updates: only changed agents are pushed, and
// the spend-rate buckets hold what was spent when it was seen.
import { createKillSwitch } from '@killswitch/core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AgentWatch,
  RATE_BUCKET_MS,
  RATE_BUCKETS,
  REFUSALS_EVERY_MS,
  REFUSALS_WINDOW_MS,
  refusalsText,
  type WatchUpdate,
} from './agent-watch.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

async function setup() {
  const ks = createKillSwitch({ runaway: false })
  closers.push(() => ks.close())
  let now = Date.now()
  const watch = new AgentWatch(ks, { intervalMs: 60_000, now: () => now })
  const updates: WatchUpdate[] = []
  const stop = watch.subscribe((update) => updates.push(update))
  closers.push(async () => stop())
  const spend = async (credential: string, usd: number) => {
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: usd, kind: 'tool', description: 'x' }),
    )
  }
  return { ks, watch, updates, spend, advance: (ms: number) => (now += ms), at: () => now }
}

describe('AgentWatch', () => {
  it('pushes only the agents that changed since the last poll', async () => {
    const { ks, watch, updates, spend } = await setup()
    const a = await ks.agents.create({ handle: 'a', spendingCap: 10 })
    await ks.agents.create({ handle: 'b', spendingCap: 10 })
    await watch.poll()
    expect(updates.at(-1)?.changed.map((row) => row.handle)).toEqual(['a', 'b'])
    updates.length = 0
    await watch.poll()
    expect(updates).toEqual([])
    await spend(a.credential, 1.5)
    await watch.poll()
    expect(updates).toHaveLength(1)
    expect(updates[0]?.changed.map((row) => [row.handle, row.spentText])).toEqual([
      ['a', '$1.50 / $10.00'],
    ])
  })

  it('pushes an agent when another agent spends its shared budget: what it can spend changed', async () => {
    const { ks, watch, updates, spend } = await setup()
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    const spender = await ks.agents.create({
      handle: 'spender',
      spendingCap: 5,
      budgets: ['team-a'],
    })
    await ks.agents.create({ handle: 'sibling', spendingCap: 50, budgets: ['team-a'] })
    await watch.poll()
    updates.length = 0
    await spend(spender.credential, 2)
    await watch.poll()
    const sibling = updates[0]?.changed.find((row) => row.handle === 'sibling')
    expect(sibling).toMatchObject({
      spentText: '$0.00 / $50.00',
      availableText: '$0.00',
      limitedByText: 'budget team-a, per day',
      budgets: [{ id: 'team-a', limits: [{ spentText: '$2.00 / $2.00' }] }],
    })
  })

  it('puts spend seen between polls in the bucket of when it was seen', async () => {
    const { ks, watch, spend, advance } = await setup()
    const a = await ks.agents.create({ handle: 'a', spendingCap: 100 })
    await watch.poll()
    await spend(a.credential, 2)
    advance(RATE_BUCKET_MS)
    await watch.poll()
    await spend(a.credential, 3)
    advance(RATE_BUCKET_MS)
    await watch.poll()
    const rate = watch.rate('a')
    expect(rate).toHaveLength(RATE_BUCKETS)
    expect(rate.slice(-2)).toEqual([2, 3])
    expect(rate.reduce((sum, value) => sum + value, 0)).toBe(5)
    // Once older than the sparkline's span, spend leaves it.
    advance(RATE_BUCKETS * RATE_BUCKET_MS)
    expect(watch.rate('a').every((value) => value === 0)).toBe(true)
  })

  it('seeds the sparkline from the audit log for spend made before it watched', async () => {
    const { ks, watch, spend, advance } = await setup()
    const a = await ks.agents.create({ handle: 'a', spendingCap: 100 })
    await spend(a.credential, 4)
    advance(RATE_BUCKET_MS * 1.5)
    await watch.poll()
    await watch.seed(['a'])
    // The $4 charged before the first poll, in the bucket of its settlement; counted once.
    expect(watch.rate('a').slice(-2)).toEqual([4, 0])
    await watch.seed(['a'])
    expect(watch.rate('a').reduce((sum, value) => sum + value, 0)).toBe(4)
  })

  it('says a shown agent is throttled: its refused calls, read from its audit log', async () => {
    const { ks, watch, updates, advance, at } = await setup()
    await ks.agents.create({ handle: 'looper', spendingCap: 10 })
    await ks.agents.create({ handle: 'quiet', spendingCap: 10 })
    // What a throttled call in another process leaves: a runaway verdict and a refusal.
    const refuse = () => {
      ks.store.appendAudit({
        at: at(),
        handle: 'looper',
        type: 'runaway',
        summary: 'slow-loop: throttled',
        data: { detector: 'slow-loop', action: 'block', enforced: true },
      })
      ks.store.appendAudit({
        at: at(),
        handle: 'looper',
        type: 'denied',
        summary: 'denied (runaway)',
        data: { rule: 'runaway', code: 'runaway_detected' },
      })
    }
    refuse()
    await watch.poll()
    await watch.seed(['looper', 'quiet'])
    expect(watch.rateView('looper').refusedText).toBe(
      'throttled by slow-loop: 1 call refused in the last minute',
    )
    expect(watch.rateView('quiet').refusedText).toBeUndefined()
    // Refusals change no snapshot: the shown agents' logs are read again every few seconds.
    updates.length = 0
    refuse()
    refuse()
    await watch.poll()
    expect(updates).toEqual([])
    advance(REFUSALS_EVERY_MS)
    await watch.poll()
    expect(updates.flatMap((update) => update.changed)).toEqual([
      expect.objectContaining({
        handle: 'looper',
        refusedText: 'throttled by slow-loop: 3 calls refused in the last minute',
      }),
    ])
    // A minute later with no refusal, the row is healthy again.
    updates.length = 0
    advance(REFUSALS_WINDOW_MS)
    await watch.poll()
    const cleared = updates.flatMap((update) => update.changed)
    expect(cleared.map((row) => row.handle)).toEqual(['looper'])
    expect(cleared[0]?.refusedText).toBeUndefined()
  })

  it('counts refusals no further back than the page of the log read, and says so', () => {
    const now = Date.now()
    const denied = (at: number, rule: string) => ({
      at,
      handle: 'a',
      type: 'denied' as const,
      summary: 'denied',
      data: { rule },
    })
    const page = Array.from({ length: 10 }, (_, i) => denied(now - 1_000 + i, 'spending_cap'))
    expect(refusalsText(page, now - REFUSALS_WINDOW_MS)).toBe(
      '10 calls refused in the last minute (spending_cap)',
    )
    // Ten entries read, all within the minute: there may be more before them.
    expect(refusalsText(page, now - REFUSALS_WINDOW_MS, 10)).toBe(
      'at least 10 calls refused in the last minute (spending_cap)',
    )
    // A revoked agent's refusals are its revocation, said already; older ones have passed.
    expect(
      refusalsText(
        [denied(now - REFUSALS_WINDOW_MS - 1, 'spending_cap'), denied(now, 'revoked')],
        now - REFUSALS_WINDOW_MS,
      ),
    ).toBeUndefined()
  })

  it("names the throttle's detector from the refusals alone: its trip, audited once, may be older than the minute", () => {
    const now = Date.now()
    // The core audits a trip once (`runaway`); each call refused while it lasts is a
    // `denied` entry naming the detector (red team r25: refusals read as new trips).
    const entries = [
      {
        at: now - REFUSALS_WINDOW_MS - 5_000,
        handle: 'a',
        type: 'runaway' as const,
        summary: 'slow-loop: throttled',
        data: { detector: 'slow-loop', action: 'block', enforced: true },
      },
      ...[3, 2, 1].map((ago) => ({
        at: now - ago * 1_000,
        handle: 'a',
        type: 'denied' as const,
        summary: 'denied (runaway)',
        data: { rule: 'runaway', code: 'runaway_detected', detector: 'slow-loop', action: 'block' },
      })),
    ]
    expect(refusalsText(entries, now - REFUSALS_WINDOW_MS)).toBe(
      'throttled by slow-loop: 3 calls refused in the last minute',
    )
  })
})
