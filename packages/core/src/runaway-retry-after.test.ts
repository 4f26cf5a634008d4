// A throttled caller is told when to come back.
import { describe, expect, it } from 'vitest'
import { RunawayDetectedError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

describe('RunawayDetectedError.retryAfterMs', () => {
  it('a throttle carries the time left before calls are admitted again; a revocation none', async () => {
    let clock = Date.parse('2026-12-01T12:00:00Z')
    const ks = createKillSwitch({ now: () => clock })
    const agent = await ks.agents.create({ handle: 'agent', spendingCap: 20 })
    const guard = ks.guard(agent.credential)
    let refused: RunawayDetectedError | undefined
    for (let i = 0; i < 50 && refused === undefined; i++) {
      clock += 10
      try {
        const ticket = await guard.beforeToolCall({
          name: 'paid_search',
          args: { q: 'acme corp', n: i },
          priceUsd: 0.01,
        })
        await guard.afterToolCall(ticket, { ok: true })
      } catch (error) {
        if (!(error instanceof RunawayDetectedError)) throw error
        refused = error
      }
    }
    expect(refused).toMatchObject({ action: 'block', retryAfterMs: 5_000 })
    expect(refused?.message).toContain('retry after')
    // Two seconds later the throttle still holds: the call is told what is left of it.
    clock += 2_000
    const again = await guard
      .beforeToolCall({ name: 'paid_search', args: { q: 'acme corp', n: 99 }, priceUsd: 0.01 })
      .catch((error: unknown) => error)
    expect(again).toMatchObject({ action: 'block', retryAfterMs: 3_000 })
  })
})
