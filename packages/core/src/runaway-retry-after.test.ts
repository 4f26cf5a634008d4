// A throttled caller is told when to come back.
import { describe, expect, it } from 'vitest'
import { RunawayDetectedError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

/** A paid lookup with a page counter, every `tick`, until slow-loop throttles it. */
async function loopUntilThrottled(
  guard: ReturnType<ReturnType<typeof createKillSwitch>['guard']>,
  tick: () => void,
): Promise<RunawayDetectedError | undefined> {
  for (let i = 0; i < 50; i++) {
    tick()
    try {
      const ticket = await guard.beforeToolCall({
        name: 'paid_search',
        args: { q: 'acme corp', n: i },
        priceUsd: 0.01,
      })
      await guard.afterToolCall(ticket, { ok: true })
    } catch (error) {
      if (!(error instanceof RunawayDetectedError)) throw error
      return error
    }
  }
  return undefined
}

/**
 * An agent on a clock the test moves, looped (10 ms a call) until a throttle refused it: the
 * refusal, and the runaway events emitted on the way.
 */
async function throttledAgent(handle: string) {
  const clock = { at: Date.parse('2026-12-01T12:00:00Z') }
  const ks = createKillSwitch({ now: () => clock.at })
  const agent = await ks.agents.create({ handle, spendingCap: 20 })
  const guard = ks.guard(agent.credential)
  const runaways: string[] = []
  ks.on('runaway', (event) => runaways.push(`${event.detector}: ${event.action}`))
  const tripped = await loopUntilThrottled(guard, () => {
    clock.at += 10
  })
  return { ks, guard, clock, tripped, runaways }
}

describe('RunawayDetectedError.retryAfterMs', () => {
  it('a throttle carries the time left before calls are admitted again; a revocation none', async () => {
    const { guard, clock, tripped: refused } = await throttledAgent('agent')
    expect(refused).toMatchObject({ action: 'block', retryAfterMs: 5_000 })
    expect(refused?.message).toContain('retry after')
    // Two seconds later the throttle still holds: the call is told what is left of it.
    clock.at += 2_000
    const again = await guard
      .beforeToolCall({ name: 'paid_search', args: { q: 'acme corp', n: 99 }, priceUsd: 0.01 })
      .catch((error: unknown) => error)
    expect(again).toMatchObject({ action: 'block', retryAfterMs: 3_000 })
  })

  // Red team r25: while tools and model calls were refused, 4 x402 payments of $0.40 went
  // through the throttle ($1.60 paid inside it).
  it('a throttle refuses a payment too, and nothing is held or spent', async () => {
    const { ks, guard, clock, tripped } = await throttledAgent('payer')
    expect(tripped).toBeInstanceOf(RunawayDetectedError)
    const before = await ks.agents.get('payer')
    clock.at += 1_000
    const payment = await guard
      .reserveSpend({
        amountUsd: 0.4,
        kind: 'payment',
        description: 'GET https://paid.example/api',
        payee: '0xabc',
      })
      .catch((error: unknown) => error)
    expect(payment).toMatchObject({
      code: 'runaway_detected',
      action: 'block',
      retryAfterMs: 4_000,
    })
    expect(await ks.agents.get('payer')).toMatchObject({ spent: before.spent, held: 0 })
    // Once the throttle has passed, the payment is admitted.
    clock.at += 5_000
    const ticket = await guard.reserveSpend({
      amountUsd: 0.4,
      kind: 'payment',
      description: 'GET https://paid.example/api',
      payee: '0xabc',
    })
    await guard.settleSpend(ticket)
    expect((await ks.agents.get('payer')).spent).toBeCloseTo(before.spent + 0.4, 6)
  })
})

describe('a throttle in the audit log', () => {
  // Red team r25: 14 `runaway` entries for 3 trips, each refused call reading as a new one.
  it('a trip is one `runaway` entry; each call refused while it lasts is a `denied` entry naming the detector and what is left', async () => {
    const { ks, guard, clock, tripped, runaways } = await throttledAgent('looper')
    expect(tripped).toMatchObject({ action: 'block', retryAfterMs: 5_000 })
    for (const left of [4_000, 3_000, 2_000]) {
      clock.at += 1_000
      await expect(
        guard.beforeToolCall({ name: 'paid_search', args: { q: 'acme', n: left }, priceUsd: 0.01 }),
      ).rejects.toMatchObject({ action: 'block', retryAfterMs: left })
    }
    const audit = await ks.audit('looper')
    const detector = tripped?.detector
    // A warning before it (its own entry), then the one trip.
    const runawayEntries = audit.filter((entry) => entry.type === 'runaway')
    expect(runawayEntries.map((entry) => entry.data.action)).toEqual(['warn', 'block'])
    expect(runawayEntries[1]?.data).toMatchObject({ detector, status: 'trip' })
    expect(runaways).toEqual([`${detector}: warn`, `${detector}: block`])
    // The trip's own call and the three after it: four refusals, each saying why and for how long.
    const refusals = audit.filter((entry) => entry.type === 'denied')
    expect(refusals.map((entry) => entry.data)).toEqual(
      [5_000, 4_000, 3_000, 2_000].map((retryAfterMs) =>
        expect.objectContaining({ rule: 'runaway', detector, action: 'block', retryAfterMs }),
      ),
    )
    await ks.close()
  })
})
