// What on-call reads afterwards: each entry that says what was spent also says on what, by
// which run and to whom, without a join on its hold; requests are told apart; what a caller
// wrote is kept with its secrets masked.
import { describe, expect, it } from 'vitest'
import { ApprovalRequiredError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

const prices = { m: { inputPerMTok: 1, outputPerMTok: 1 } }

/** An agent with a $0.01 cap whose spends past it ask a person (who answers later). */
async function askingAgent() {
  const ks = createKillSwitch({ prices, runaway: false })
  const { credential } = await ks.agents.create({
    handle: 'a',
    spendingCap: 0.01,
    approvals: { enabled: true, waitMs: 0 },
  })
  return { ks, guard: ks.guard(credential) }
}

describe('the audit log answers what, by which run and to whom', () => {
  it('names the run and the payee on settled entries, not only on their holds', async () => {
    const ks = createKillSwitch({ prices, runaway: false })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(credential)
    const model = await guard.beforeModelCall({ model: 'm', input: 'x', runId: 'run-7' })
    await guard.afterModelCall(model, { usage: { inputTokens: 1, outputTokens: 1 } })
    const spend = await guard.reserveSpend({
      amountUsd: 0.01,
      kind: 'payment',
      description: 'search',
      payee: '0xabc',
      runId: 'run-7',
    })
    await guard.settleSpend(spend, { amountUsd: 0.005 })
    const entries = await ks.audit('a')
    const settled = entries.filter((entry) => entry.type === 'settled')
    expect(settled.map((entry) => entry.data)).toEqual([
      expect.objectContaining({ kind: 'model', runId: 'run-7' }),
      expect.objectContaining({ kind: 'payment', runId: 'run-7', payee: '0xabc', cost: 0.005 }),
    ])
    const holds = entries.filter((entry) => entry.type === 'hold')
    expect(holds[1]?.data).toMatchObject({ payee: '0xabc', runId: 'run-7' })
    await ks.close()
  })

  it("keeps a spend's description with its secrets masked, on every entry and approval", async () => {
    const { ks, guard } = await askingAgent()
    const description = 'GET https://api.example.com/v1/search?key=PAYSECRET999abc&q=x'
    const spend = await guard.reserveSpend({ amountUsd: 0.005, kind: 'payment', description })
    await guard.settleSpend(spend)
    // Past the cap: a person is asked, with the description as the reason.
    await expect(
      guard.reserveSpend({ amountUsd: 0.02, kind: 'payment', description }),
    ).rejects.toBeInstanceOf(ApprovalRequiredError)
    const text = JSON.stringify([await ks.audit('a'), await ks.approvals.list()])
    expect(text).not.toContain('PAYSECRET999abc')
    expect(text).toContain('https://api.example.com/v1/search?[redacted]')
    await ks.close()
  })

  it('gives each approval request its id in the audit log, so requests made at once are told apart', async () => {
    const { ks, guard } = await askingAgent()
    const refused = await guard
      .reserveSpend({ amountUsd: 0.02, kind: 'payment', description: 'big' })
      .catch((error: ApprovalRequiredError) => error)
    expect(refused).toBeInstanceOf(ApprovalRequiredError)
    const requested = (await ks.audit('a')).find(
      (entry) => entry.type === 'approval' && entry.data.event === 'requested',
    )
    const [pending] = await ks.approvals.list({ status: 'pending' })
    expect(requested?.data.approvalId).toBe(pending?.id)
    await ks.close()
  })
})
