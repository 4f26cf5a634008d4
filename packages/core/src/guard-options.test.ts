// What ks.guard(credential, options) takes: tool prices, and nothing else. A budget scope
// given there was ignored (red team r16: ten calls went past a customer's $0.001 budget).
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

describe('ks.guard options', () => {
  it('refuses a budget scope, naming it and where it goes', async () => {
    const ks = createKillSwitch({ prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    for (const [key, value] of [
      ['budgets', ['customer-acme']],
      ['runId', 'job-1'],
      ['runCap', 0.001],
    ] as const) {
      expect(() => ks.guard(credential, { [key]: value } as never)).toThrow(
        expect.objectContaining({
          code: 'invalid_config',
          field: key,
          message: expect.stringContaining('pass it with each call'.replace('it', key)),
        }),
      )
    }
    await ks.close()
  })

  it('refuses a misspelt option and a non-object, and takes tool prices', async () => {
    const ks = createKillSwitch()
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    expect(() => ks.guard(credential, { budget: ['x'] } as never)).toThrow(
      expect.objectContaining({ field: 'budget' }),
    )
    expect(() => ks.guard(credential, { toolprices: {} } as never)).toThrow(
      /did you mean toolPrices/,
    )
    expect(() => ks.guard(credential, 'fast' as never)).toThrow(
      expect.objectContaining({ field: 'options' }),
    )
    expect(ks.guard(credential, { toolPrices: { search: 0.01 } })).toBeDefined()
    expect(ks.guard(credential)).toBeDefined()
    await ks.close()
  })
})
