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

describe('RunawayDetectedError.retryAfterMs', () => {
  it('a throttle carries the time left before calls are admitted again; a revocation none', async () => {
    let clock = Date.parse('2026-12-01T12:00:00Z')
    const ks = createKillSwitch({ now: () => clock })
    const agent = await ks.agents.create({ handle: 'agent', spendingCap: 20 })
    const guard = ks.guard(agent.credential)
    const refused = await loopUntilThrottled(guard, () => {
      clock += 10
    })
    expect(refused).toMatchObject({ action: 'block', retryAfterMs: 5_000 })
    expect(refused?.message).toContain('retry after')
    // Two seconds later the throttle still holds: the call is told what is left of it.
    clock += 2_000
    const again = await guard
      .beforeToolCall({ name: 'paid_search', args: { q: 'acme corp', n: 99 }, priceUsd: 0.01 })
      .catch((error: unknown) => error)
    expect(again).toMatchObject({ action: 'block', retryAfterMs: 3_000 })
  })

  // Red team r25: while tools and model calls were refused, 4 x402 payments of $0.40 went
  // through the throttle ($1.60 paid inside it).
  it('a throttle refuses a payment too, and nothing is held or spent', async () => {
    let clock = Date.parse('2026-12-01T12:00:00Z')
    const ks = createKillSwitch({ now: () => clock })
    const agent = await ks.agents.create({ handle: 'payer', spendingCap: 20 })
    const guard = ks.guard(agent.credential)
    expect(
      await loopUntilThrottled(guard, () => {
        clock += 10
      }),
    ).toBeInstanceOf(RunawayDetectedError)
    const before = await ks.agents.get('payer')
    clock += 1_000
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
    clock += 5_000
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
