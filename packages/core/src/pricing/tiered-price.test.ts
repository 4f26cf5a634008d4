// LiteLLM PR #40002: reservations priced at the wrong tier let 4 of 5 concurrent large calls
// through a cap meant for 2. The bound must use the tier the request itself can reach.
import { calcPrice } from '@pydantic/genai-prices'
import { describe, expect, it } from 'vitest'
import { SpendingCapExceededError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import { costBound, costOfUsage } from './cost.js'
import { createPriceSource } from './price-source.js'

// gemini-2.5-pro: input $1.25 / M up to 200k input tokens, $2.50 above; output $10 / $15.
const model = 'gemini-2.5-pro'
const provider = 'google'

describe('tiered prices', () => {
  const rates = createPriceSource().resolve(model, provider)

  it.each([
    [10_000, 2_000],
    [199_999, 1_000],
    [200_001, 1_000],
    [350_000, 8_000],
  ])(
    'settles %i input / %i output tokens at the tier the call reached, like calcPrice',
    (input, output) => {
      const expected =
        (calcPrice({ input_tokens: input, output_tokens: output }, model, { providerId: provider })
          ?.total_price ?? Number.NaN) * 1e6
      const ours = costOfUsage({ inputTokens: input, outputTokens: output }, rates!)
      expect(ours - expected).toBeGreaterThanOrEqual(-1e-6)
      expect(ours - expected).toBeLessThanOrEqual(1)
    },
  )

  it('bounds a call by the highest tier it can reach', () => {
    // 250k input at $2.50 / M + 1,000 output at $15 / M.
    expect(costBound(250_000, 1_000, rates!)).toBe(625_000 + 15_000)
  })

  it('admits only the large concurrent calls the cap pays for at their real tier', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'long-context', spendingCap: 1.45 })
    const guard = ks.guard(agent.credential)
    const prompt = 'x'.repeat(250_000) // a 250k-token prompt at most: the upper tier
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, async () => {
        const ticket = await guard.beforeModelCall({
          model,
          provider,
          input: prompt,
          maxOutputTokens: 1_000,
        })
        await guard.afterModelCall(ticket, { usage: { inputTokens: 250_000, outputTokens: 1_000 } })
      }),
    )
    const admitted = results.filter((result) => result.status === 'fulfilled').length
    // Held at the upper tier: 250k input at $2.50 / M plus 5 x 1,000 counted output tokens at
    // $15 / M (Gemini's tokenizer is not known) = $0.70 each: two fit under $1.45 (at the
    // base tier, $0.3875, three would).
    expect(admitted).toBe(2)
    for (const result of results) {
      if (result.status === 'rejected')
        expect(result.reason).toBeInstanceOf(SpendingCapExceededError)
    }
    const state = await ks.agents.get('long-context')
    expect(state.spent).toBe(1.28)
    expect(state.held).toBe(0)
  })
})
