// A prompt given to the guard as a plain string is held with its chat template too: held at
// its bytes alone, a burst of tiny calls settled above their holds and passed the cap twice
// over (red team r16: 333 calls of "ok" billed $0.00999 on a $0.005 cap).
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'
import { toMicros } from './money.js'

describe('a string prompt', () => {
  it('keeps a concurrent burst of tiny calls within the cap, settled at what OpenAI bills', async () => {
    // One token costs one micro-dollar; the cap is 1,000 of them.
    const ks = createKillSwitch({ prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
    const { credential } = await ks.agents.create({ handle: 'burst', spendingCap: 0.001 })
    const guard = ks.guard(credential)
    const held = await Promise.allSettled(
      Array.from({ length: 400 }, () =>
        guard.beforeModelCall({ model: 'm', input: 'ok', maxOutputTokens: 1 }),
      ),
    )
    const tickets = held.flatMap((outcome) =>
      outcome.status === 'fulfilled' ? [outcome.value] : [],
    )
    expect(tickets.length).toBeGreaterThan(0)
    // OpenAI's honest count for "ok" in a chat: 1 text token and 7 of template.
    await Promise.all(
      tickets.map((ticket) =>
        guard.afterModelCall(ticket, { usage: { inputTokens: 8, outputTokens: 1 } }),
      ),
    )
    const agent = await ks.agents.get('burst')
    expect(agent.held).toBe(0)
    expect(toMicros(agent.spent)).toBe(tickets.length * 9)
    expect(toMicros(agent.spent)).toBeLessThanOrEqual(1_000)
    await ks.close()
  })
})
