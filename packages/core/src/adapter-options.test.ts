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

  it('refuses an option the adapter does not take, with the near one it meant', () => {
    const killSwitch = createKillSwitch()
    const base = { killSwitch, credential: 'ks_x' }
    const refusal = (options: object, names?: Parameters<typeof adapterSetup>[1]) => {
      try {
        adapterSetup(options as never, names)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidConfigError)
        return error as InvalidConfigError
      }
      return undefined
    }
    // A misspelt runCap would run without the run's cap: refused, never ignored.
    const misspelt = refusal({ ...base, runId: 'r', runcap: 5 }, { name: 'guardModel' })
    expect(misspelt?.field).toBe('runcap')
    expect(misspelt?.message).toContain('not an option of guardModel (did you mean runCap?)')
    expect(refusal({ ...base, maxTokens: 5 })?.message).toContain('its options are killSwitch')
    // A key carrying a credential is masked in the field too, not only in the message.
    const secret = `ks_${'a'.repeat(40)}`
    const leaked = refusal({ ...base, [secret]: true })
    expect(JSON.stringify({ field: leaked?.field, message: leaked?.message })).not.toContain(secret)
    // An adapter's own options are taken; the core's it does not take are refused.
    const names = { name: 'killSwitchFetch', own: ['client'], without: ['model' as const] }
    expect(refusal({ ...base, client: {} }, names)).toBeUndefined()
    expect(refusal({ ...base, model: 'gpt-4o' }, names)?.field).toBe('model')
  })

  it('refuses a guard that is not one (it would fail at every call instead)', async () => {
    const ks = createKillSwitch()
    const { credential } = await ks.agents.create({ handle: 'g', spendingCap: 1 })
    for (const guard of [{}, { startModelCall: () => undefined }, 'ks_x']) {
      expect(() => adapterSetup({ guard } as never)).toThrow(
        expect.objectContaining({ field: 'guard' }),
      )
    }
    expect(adapterSetup({ guard: ks.guard(credential) }).guard).toBeDefined()
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
