// Spend rules: the agent's policy and a call's own, checked in one place before anything is held.
import { describe, expect, it } from 'vitest'
import { InvalidConfigError, SpendRefusedError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { parseSpendRules, samePayee } from './spend-rules.js'

const PAYEE = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
const OTHER = '0x1111111111111111111111111111111111111111'
const spend = { kind: 'payment', description: 'GET https://api.example.com/search' }

async function setup(spendRules?: { allowedPayees?: string[]; maxSpendUsd?: number }) {
  const ks = createKillSwitch({ runaway: false })
  const agent = await ks.agents.create({
    handle: 'buyer',
    spendingCap: 10,
    ...(spendRules ? { spendRules } : {}),
  })
  const denied: string[] = []
  ks.on('denied', (event) => denied.push(event.rule))
  return { ks, guard: ks.guard(agent.credential), denied }
}

describe('spend rules', () => {
  it("refuses a payee outside the agent's allowlist before holding anything, and audits it", async () => {
    const { ks, guard, denied } = await setup({ allowedPayees: [PAYEE] })
    const error = await guard
      .reserveSpend({ ...spend, amountUsd: 0.01, payee: OTHER })
      .catch((reason: unknown) => reason)
    expect(error).toBeInstanceOf(SpendRefusedError)
    expect(error).toMatchObject({ rule: 'payee_not_allowed', source: 'agent', payee: OTHER })
    expect(await ks.agents.get('buyer')).toMatchObject({ held: 0, spent: 0 })
    expect(denied).toEqual(['spend_rule'])
    const audit = await ks.audit('buyer')
    expect(audit.at(-1)).toMatchObject({ type: 'denied', data: { payee: OTHER } })
    // The allowed payee, in another letter case (an EVM address's case is a checksum).
    const ticket = await guard.reserveSpend({
      ...spend,
      amountUsd: 0.01,
      payee: PAYEE.toLowerCase(),
    })
    await guard.settleSpend(ticket)
    expect((await ks.agents.get('buyer')).spent).toBe(0.01)
  })

  it('an allowlist refuses a spend that names no payee', async () => {
    const { guard } = await setup({ allowedPayees: [PAYEE] })
    await expect(guard.reserveSpend({ ...spend, amountUsd: 0.01 })).rejects.toMatchObject({
      rule: 'payee_not_allowed',
    })
  })

  it('refuses one spend above maxSpendUsd; the call rules and the agent rules both apply', async () => {
    const { guard } = await setup({ maxSpendUsd: 0.5 })
    await expect(guard.reserveSpend({ ...spend, amountUsd: 0.51 })).rejects.toMatchObject({
      rule: 'max_spend_exceeded',
      source: 'agent',
    })
    // The call's own rule is tighter.
    await expect(
      guard.reserveSpend({ ...spend, amountUsd: 0.2, rules: { maxSpendUsd: 0.1 } }),
    ).rejects.toMatchObject({ rule: 'max_spend_exceeded', source: 'call' })
    await guard.releaseSpend(await guard.reserveSpend({ ...spend, amountUsd: 0.5 }))
  })

  it("names the option to change: the agent's spendRules, or the adapter's own names", async () => {
    const { guard } = await setup({ maxSpendUsd: 0.5 })
    await expect(guard.reserveSpend({ ...spend, amountUsd: 0.51 })).rejects.toThrow(
      "more than the agent's spendRules maxSpendUsd ($0.5) allows for one spend. Raise maxSpendUsd",
    )
    const rules = { maxSpendUsd: 0.1, allowedPayees: [PAYEE] }
    const rulesNamed = { owner: 'killSwitchFetch', maxSpendUsd: 'maxPaymentUsd' }
    await expect(
      guard.reserveSpend({ ...spend, amountUsd: 0.2, payee: PAYEE, rules, rulesNamed }),
    ).rejects.toThrow(
      "more than killSwitchFetch's options maxPaymentUsd ($0.1) allows for one spend. Raise maxPaymentUsd",
    )
    await expect(
      guard.reserveSpend({ ...spend, amountUsd: 0.05, payee: OTHER, rules, rulesNamed }),
    ).rejects.toThrow("the payee is not in killSwitchFetch's options allowedPayees")
    await expect(
      guard.reserveSpend({ ...spend, amountUsd: 0.2, rules: { maxSpendUsd: 0.1 } }),
    ).rejects.toThrow("more than this call's rules maxSpendUsd ($0.1)")
  })

  it('rules changed in another process apply at the next spend (the reserve reads them)', async () => {
    const { ks, guard } = await setup()
    await guard.releaseSpend(await guard.reserveSpend({ ...spend, amountUsd: 1, payee: OTHER }))
    await ks.agents.update('buyer', { spendRules: { allowedPayees: [PAYEE] } })
    await expect(
      guard.reserveSpend({ ...spend, amountUsd: 1, payee: OTHER }),
    ).rejects.toBeInstanceOf(SpendRefusedError)
    expect(await ks.agents.get('buyer')).toMatchObject({
      held: 0,
      spendRules: { allowedPayees: [PAYEE] },
    })
    // `{}` removes them.
    await ks.agents.update('buyer', { spendRules: {} })
    await guard.releaseSpend(await guard.reserveSpend({ ...spend, amountUsd: 1, payee: OTHER }))
  })

  it.each([
    [{ allowedPayees: 'x' }, 'spendRules.allowedPayees'],
    [{ allowedPayees: [''] }, 'spendRules.allowedPayees.0'],
    [{ maxSpendUsd: -1 }, 'spendRules.maxSpendUsd'],
    [{ maxSpendUsd: Number.NaN }, 'spendRules.maxSpendUsd'],
    [{ maxPayment: 1 }, 'spendRules.maxPayment'],
  ])('refuses bad rules %j naming the field, and writes nothing', async (rules, field) => {
    const ks = createKillSwitch()
    await expect(
      ks.agents.create({ handle: 'bad', spendingCap: 1, spendRules: rules as never }),
    ).rejects.toMatchObject({ field })
    await expect(ks.agents.get('bad')).rejects.toThrow()
  })

  it('refuses bad call rules and a bad payee as typed errors', async () => {
    const { guard } = await setup()
    await expect(
      guard.reserveSpend({ ...spend, amountUsd: 1, rules: { maxSpendUsd: -1 } }),
    ).rejects.toBeInstanceOf(InvalidConfigError)
    await expect(guard.reserveSpend({ ...spend, amountUsd: 1, payee: '' })).rejects.toMatchObject({
      field: 'payee',
    })
  })

  it('samePayee: EVM addresses ignore case, other forms compare exactly', () => {
    expect(samePayee(PAYEE, PAYEE.toLowerCase())).toBe(true)
    expect(samePayee('So1anaAddr', 'so1anaaddr')).toBe(false)
  })
})

describe('parseSpendRules', () => {
  const fieldOf = (run: () => unknown) => {
    try {
      run()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfigError)
      const { field, message } = error as InvalidConfigError
      return { field, message }
    }
    return undefined
  }

  it("names a bad rule by the adapter's name for it, in the field and the message", () => {
    const names = { owner: 'killSwitchFetch', maxSpendUsd: 'maxPaymentUsd' }
    const bad = fieldOf(() => parseSpendRules({ maxSpendUsd: -1 }, 'killSwitchFetch', names))
    expect(bad?.field).toBe('maxPaymentUsd')
    expect(bad?.message).toMatch(/^Invalid maxPaymentUsd in killSwitchFetch: /)
    expect(bad?.message).not.toContain('maxSpendUsd')
    // A rule the adapter names as the core does keeps its path (index included).
    const payee = fieldOf(() => parseSpendRules({ allowedPayees: ['0xa', ''] }, 'x', names))
    expect(payee?.field).toBe('allowedPayees.1')
    // Without names: the core's own.
    expect(fieldOf(() => parseSpendRules({ maxSpendUsd: 2e9 }, 'spendRules'))?.field).toBe(
      'maxSpendUsd',
    )
    expect(parseSpendRules({ maxSpendUsd: 0.5 }, 'x', names)).toEqual({ maxSpendUsd: 0.5 })
  })
})

describe('guard.spendRules', () => {
  it("answers the agent's own rules for choosing among offers; none when it has none; refuses once revoked", async () => {
    const ks = createKillSwitch({ runaway: false })
    const rules = { allowedPayees: ['0xabc'], maxSpendUsd: 0.5 }
    const ruled = await ks.agents.create({ handle: 'ruled', spendingCap: 1, spendRules: rules })
    const plain = await ks.agents.create({ handle: 'plain', spendingCap: 1 })
    expect(await ks.guard(ruled.credential).spendRules()).toEqual(rules)
    expect(await ks.guard(plain.credential).spendRules()).toBeUndefined()
    await ks.agents.revoke('ruled')
    await expect(ks.guard(ruled.credential).spendRules()).rejects.toMatchObject({
      code: 'agent_revoked',
    })
  })
})
