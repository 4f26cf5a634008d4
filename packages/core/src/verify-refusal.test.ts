import { describe, expect, it } from 'vitest'
import { AgentRevokedError, SpendingCapExceededError } from './errors.js'
import { createKillSwitch, type KillSwitch } from './kill-switch.js'
import { verifyRefusal } from './verify-refusal.js'

type AgentOptions = Omit<Parameters<KillSwitch['agents']['create']>[0], 'handle'>

async function agentWith(options: AgentOptions, budget?: { amount: number; per: 'day' }) {
  const ks = createKillSwitch({ runaway: false })
  if (budget) await ks.budgets.create({ id: 'team', limits: [budget] })
  const { credential } = await ks.agents.create({
    handle: 'edge-agent',
    ...options,
    ...(budget ? { budgets: ['team'] } : {}),
  })
  const guard = ks.guard(credential)
  const spend = async (amountUsd: number) =>
    guard.settleSpend(await guard.reserveSpend({ amountUsd, kind: 'tool', description: 'test' }))
  return { ks, credential, spend }
}

describe('verifyRefusal', () => {
  it('lets an agent with budget left go on', async () => {
    const { ks, credential, spend } = await agentWith({ spendingCap: 1 })
    await spend(0.4)
    expect(verifyRefusal(await ks.verify(credential))).toBeUndefined()
  })

  it('refuses a revoked, unknown or malformed credential with AgentRevokedError (401)', async () => {
    const { ks, credential } = await agentWith({ spendingCap: 1 })
    await ks.agents.revoke('edge-agent')
    for (const given of [credential, `ks_${'A'.repeat(43)}`, 'not-a-credential']) {
      const refusal = verifyRefusal(await ks.verify(given))
      expect(refusal).toBeInstanceOf(AgentRevokedError)
      expect(refusal?.status).toBe(401)
    }
  })

  it('refuses an agent with nothing left at its cap with SpendingCapExceededError (402)', async () => {
    const { ks, credential, spend } = await agentWith({ spendingCap: 0.5 })
    await spend(0.5)
    const refusal = verifyRefusal(await ks.verify(credential))
    expect(refusal).toBeInstanceOf(SpendingCapExceededError)
    expect(refusal).toMatchObject({ status: 402, handle: 'edge-agent', spendingCapUsd: 0.5 })
    expect(refusal?.message).toContain('no budget left')
  })

  it('refuses when a window binds before the cap', async () => {
    const { ks, credential, spend } = await agentWith({
      spendingCap: 10,
      limits: [{ amount: 1, per: 'day' }],
    })
    await spend(1)
    const verdict = await ks.verify(credential)
    expect(verdict).toMatchObject({ available: 0, limitedBy: 'agent', per: 'day' })
    const refusal = verifyRefusal(verdict)
    expect(refusal).toBeInstanceOf(SpendingCapExceededError)
    // The window that binds and when it resets: the caller knows when to try again.
    expect(refusal).toMatchObject({ level: 'agent', per: 'day', resetsAt: verdict.resetsAt })
    expect(Date.parse(verdict.resetsAt ?? '')).toBeGreaterThan(Date.now())
    expect(refusal?.message).toContain(`It resets at ${verdict.resetsAt}`)
    expect(refusal?.message).toContain('agents.update')
  })

  it('counts a grant approved past the cap: the agent may go on while it lasts', async () => {
    const { ks, credential, spend } = await agentWith({
      spendingCap: 0.5,
      approvals: { enabled: true, waitMs: 0 },
    })
    await spend(0.5)
    const now = Date.now()
    await ks.store.openApproval({
      id: 'apr_edge',
      handle: 'edge-agent',
      requestedMicros: 1_000_000,
      reason: 'cap',
      ttlMs: 60_000,
      now,
    })
    await ks.approvals.approve('apr_edge', { amount: 1, ttlMs: 60_000, by: 'alice' })
    expect(await ks.verify(credential)).toMatchObject({ available: 1, limitedBy: 'agent' })
    expect(verifyRefusal(await ks.verify(credential))).toBeUndefined()
  })

  it('refuses an agent with approvals on at its own window at once: a grant raises its cap, not its windows', async () => {
    const { ks, credential, spend } = await agentWith({
      spendingCap: 100,
      limits: [{ amount: 1, per: 'day' }],
      approvals: { enabled: true, waitMs: 10_000 },
    })
    await spend(1)
    const verdict = await ks.verify(credential)
    expect(verdict).toMatchObject({ available: 0, limitedBy: 'agent', per: 'day', approvals: true })
    expect(verifyRefusal(verdict)).toMatchObject({ level: 'agent', per: 'day' })

    // The guard refuses the next spend without asking anyone (it used to ask, and an approved
    // grant was then refused again by the window it does not raise).
    const guard = ks.guard(credential)
    const refused = await guard
      .reserveSpend({ amountUsd: 0.5, kind: 'tool', description: 'past the day' })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(SpendingCapExceededError)
    expect(refused).toMatchObject({ per: 'day' })
    expect(await ks.approvals.list({ status: 'pending' })).toEqual([])
  })

  it('refuses, without asking anyone, an agent with approvals on spent out at its cap and a window alike', async () => {
    for (const budget of [undefined, { amount: 5, per: 'day' as const }]) {
      const { ks, credential, spend } = await agentWith(
        {
          spendingCap: 5,
          ...(budget ? {} : { limits: [{ amount: 5, per: 'day' as const }] }),
          approvals: { enabled: true, waitMs: 10_000 },
        },
        budget,
      )
      await spend(5)
      const verdict = await ks.verify(credential)
      expect(verdict).toMatchObject({ available: 0, per: 'day' })
      expect(verifyRefusal(verdict)).toBeInstanceOf(SpendingCapExceededError)
      const refused = await ks
        .guard(credential)
        .reserveSpend({ amountUsd: 1, kind: 'tool', description: 'more' })
        .catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'spending_cap_exceeded', per: 'day' })
      expect(await ks.approvals.list({ status: 'pending' })).toEqual([])
    }
  })

  it('lets an agent with approvals on through at its own cap (its call asks a person), not at a shared budget', async () => {
    const atCap = await agentWith({ spendingCap: 0.5, approvals: { enabled: true, waitMs: 0 } })
    await atCap.spend(0.5)
    const capVerdict = await atCap.ks.verify(atCap.credential)
    expect(capVerdict).toMatchObject({ available: 0, limitedBy: 'agent', approvals: true })
    expect(verifyRefusal(capVerdict)).toBeUndefined()

    const atBudget = await agentWith(
      { spendingCap: 10, approvals: { enabled: true, waitMs: 0 } },
      { amount: 1, per: 'day' },
    )
    await atBudget.spend(1)
    const budgetVerdict = await atBudget.ks.verify(atBudget.credential)
    expect(budgetVerdict).toMatchObject({ available: 0, limitedBy: 'budget', approvals: true })
    const refusal = verifyRefusal(budgetVerdict)
    expect(refusal).toBeInstanceOf(SpendingCapExceededError)
    expect(refusal).toMatchObject({
      level: 'budget',
      budgetId: 'team',
      per: 'day',
      resetsAt: budgetVerdict.resetsAt,
      message: expect.stringContaining('budgets.update'),
    })
    expect(refusal?.message).toContain('shared budget "team"')
  })
})
