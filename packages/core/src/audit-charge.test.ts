import { describe, expect, it, vi } from 'vitest'
import { auditCharge } from './audit-charge.js'
import { createKillSwitch } from './kill-switch.js'

/** An agent whose payment's outcome is unknown until its deadline passes: it lapses. */
async function lapsedPayment(amountUsd: number) {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
  let now = 1_000_000
  const ks = createKillSwitch({ runaway: false, now: () => now })
  const agent = await ks.agents.create({ handle: 'payer', spendingCap: 5 })
  const guard = ks.guard(agent.credential)
  const kept = await guard.reserveSpend({ amountUsd: 0.07, kind: 'tool', description: 'search' })
  await guard.settleSpend(kept)
  const spend = await guard.reserveSpend({ amountUsd, kind: 'payment', description: 'render' })
  // Held to the later of its deadline and its lease (5 minutes by default), then charged.
  await guard.markSpendUnknown(spend, { holdUntil: now + 60_000, reason: 'no answer' })
  now += 300_001
  expect(await ks.agents.get('payer')).toMatchObject({ unreconciled: amountUsd })
  return { ks, guard, spend }
}

const sum = (entries: Parameters<typeof auditCharge>[0][]) =>
  Math.round(entries.reduce((total, entry) => total + auditCharge(entry), 0) * 1e6) / 1e6

describe('an ending of a lapsed hold in the audit log', () => {
  it('says the charge a late settlement replaces, and the log sums to the spend', async () => {
    const { ks, guard, spend } = await lapsedPayment(0.3)
    await guard.settleSpend(spend, { amountUsd: 0.1 })
    const spent = (await ks.agents.get('payer')).spent
    expect(spent).toBeCloseTo(0.17, 9)
    const log = await ks.audit('payer')
    const late = log.filter((entry) => entry.type === 'settled').at(-1)
    expect(late?.data).toMatchObject({ cost: 0.1, outcome: 'corrected', replaces: 0.3 })
    expect(late?.summary).toMatch(
      /^settled \$0\.1 for render.*: replaces the \$0\.3 charged before \(spend -\$0\.2\)$/,
    )
    // Without `replaces` the entries said 0.07 + 0.30 + 0.10 = $0.47.
    expect(sum(log)).toBe(spent)
    vi.useRealTimers()
  })

  it('says the charge a withdrawal takes back', async () => {
    const { ks, guard, spend } = await lapsedPayment(0.25)
    await guard.releaseSpend(spend)
    const log = await ks.audit('payer')
    const withdrawn = log.find((entry) => entry.data.outcome === 'lapse_withdrawn')
    expect(withdrawn?.summary).toMatch(/: withdraws the \$0\.25 charged before$/)
    expect(sum(log)).toBe((await ks.agents.get('payer')).spent)
    expect(sum(log)).toBe(0.07)
    vi.useRealTimers()
  })

  it('counts a settlement, a lapse and a replaced charge to the micro-dollar', () => {
    expect(auditCharge({ type: 'settled', data: { cost: 0.1 + 0.2 } })).toBe(0.3)
    expect(auditCharge({ type: 'lapsed', data: { amount: 0.000001 } })).toBe(0.000001)
    expect(auditCharge({ type: 'released', data: { replaces: 0.25 } })).toBe(-0.25)
    expect(auditCharge({ type: 'settled', data: { cost: Number.NaN } })).toBe(0)
    expect(auditCharge({ type: 'hold', data: { amount: 5 } })).toBe(0)
  })
})
