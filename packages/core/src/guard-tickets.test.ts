// A ticket is a frozen view: only the ticket the guard issued ends its call. A copy or a
// look-alike (which could name another agent's hold) is refused with a typed error, and
// nothing is settled.
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

async function setup() {
  const ks = createKillSwitch({
    prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    toolPrices: { search: 0.01 },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
  return { ks, guard: ks.guard(credential) }
}

describe('tickets', () => {
  it('are frozen, and a copy of a model ticket settles nothing', async () => {
    const { ks, guard } = await setup()
    const ticket = await guard.beforeModelCall({ model: 'm', input: 'x', maxOutputTokens: 10 })
    expect(Object.isFrozen(ticket)).toBe(true)
    expect(() => {
      ;(ticket as { maxOutputTokens: number }).maxOutputTokens = 1_000
    }).toThrow(TypeError)
    const usage = { usage: { inputTokens: 1, outputTokens: 1 } }
    await expect(guard.afterModelCall({ ...ticket }, usage)).rejects.toThrow(InvalidConfigError)
    const lookAlike = Object.create(Object.getPrototypeOf(ticket))
    await expect(guard.afterModelCall(lookAlike, usage)).rejects.toThrow(InvalidConfigError)
    expect((await ks.agents.get('a')).held).toBeCloseTo(ticket.reservedUsd, 9)
    await guard.afterModelCall(ticket, usage)
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0.000002 })
  })

  it('of a spend and of a paid tool end their hold once; a copy is refused', async () => {
    const { ks, guard } = await setup()
    const spend = await guard.reserveSpend({ amountUsd: 0.05, kind: 'payment', description: 'x' })
    await expect(guard.settleSpend({ ...spend })).rejects.toThrow(InvalidConfigError)
    await guard.settleSpend(spend)
    const tool = await guard.beforeToolCall({ name: 'search', args: {} })
    // A copy of a tool ticket carries no spend: the real ticket still ends it.
    await guard.afterToolCall({ ...tool }, { ok: true })
    expect((await ks.agents.get('a')).held).toBeCloseTo(0.01, 9)
    await guard.afterToolCall(tool, { ok: true })
    await guard.afterToolCall(tool, { ok: true })
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0.06 })
  })
})
