import { describe, expect, it } from 'vitest'
import { AgentRevokedError, SpendingCapExceededError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { verifyRefusal } from './verify-refusal.js'

async function agentWith(options: {
  spendingCap: number
  limits?: { amount: number; per: 'day' }[]
}) {
  const ks = createKillSwitch({ runaway: false })
  const { credential } = await ks.agents.create({ handle: 'edge-agent', ...options })
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
    expect(verifyRefusal(await ks.verify(credential))).toBeInstanceOf(SpendingCapExceededError)
  })
})
