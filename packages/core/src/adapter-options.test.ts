import { describe, expect, it } from 'vitest'
import { adapterSetup } from './adapter-options.js'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

describe('adapterSetup', () => {
  it('returns the guard, the model naming and the budget scope', async () => {
    const ks = createKillSwitch({ runaway: false })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const setup = adapterSetup({
      killSwitch: ks,
      credential,
      model: 'gpt-4o',
      runId: 'r1',
      budgets: ['team'],
      toolPrices: { search: 0.25 },
    })
    expect(setup.naming).toEqual({ model: 'gpt-4o' })
    expect(setup.scope).toEqual({ runId: 'r1', budgets: ['team'] })
    // The tool price reached the guard: held when the tool runs.
    await setup.guard.runToolCall({ name: 'search', args: {} }, () => 'ok')
    expect((await ks.agents.get('a')).spent).toBe(0.25)
  })

  it.each([
    [null, 'options'],
    [{ credential: 'ks_x' }, 'killSwitch'],
    [{ killSwitch: {}, credential: 'ks_x' }, 'killSwitch'],
    [{ killSwitch: createKillSwitch(), credential: '' }, 'credential'],
    [{ killSwitch: createKillSwitch(), credential: 'ks_x', model: '' }, 'model'],
    [{ killSwitch: createKillSwitch(), credential: 'ks_x', toolPrices: { a: -1 } }, 'toolPrices.a'],
    [{ guard: createKillSwitch().guard('ks_x'), credential: 'ks_x' }, 'guard'],
    [{ guard: createKillSwitch().guard('ks_x'), toolPrices: { a: 1 } }, 'toolPrices'],
    [{ killSwitch: createKillSwitch(), credential: 'ks_x', runId: 'r', runCap: -1 }, 'runCap'],
    [{ killSwitch: createKillSwitch(), credential: 'ks_x', runCap: Number.NaN }, 'runCap'],
    [{ killSwitch: createKillSwitch(), credential: 'ks_x', budgets: 'team' }, 'budgets'],
    [{ killSwitch: createKillSwitch(), credential: 'ks_x', budgets: ['a b'] }, 'budgets.0'],
  ])('refuses %o naming %s', (options, field) => {
    try {
      adapterSetup(options as never)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect(error).toMatchObject({ field })
    }
  })

  it('takes a runCap without a runId: a framework may give the run with each call', () => {
    const setup = adapterSetup({ killSwitch: createKillSwitch(), credential: 'ks_x', runCap: 2 })
    expect(setup.scope).toEqual({ runCap: 2 })
  })

  it('never puts the credential in a message', () => {
    const secret = 'ks_live_secret_value_1234567890'
    try {
      adapterSetup({ killSwitch: {} as never, credential: secret })
    } catch (error) {
      expect((error as Error).message).not.toContain(secret)
    }
  })
})
