import { describe, expect, it } from 'vitest'
import { AgentRevokedError, SpendingCapExceededError, StoreUnavailableError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { checkRequestCredential } from './request-credential.js'

async function agent(spendingCap = 1) {
  const ks = createKillSwitch({ runaway: false })
  const { credential } = await ks.agents.create({ handle: 'edge-agent', spendingCap })
  return { ks, credential }
}

/** A request's headers, as an edge framework reads them. */
const headers = (values: Record<string, string | undefined>) => (name: string) => values[name]

describe('checkRequestCredential', () => {
  it('names the agent of an active credential, wherever the request carries it', async () => {
    const { ks, credential } = await agent()
    for (const sent of [
      { 'x-killswitch-credential': credential },
      { authorization: `Bearer ${credential}` },
      { 'x-api-key': credential },
    ]) {
      expect(await checkRequestCredential(ks, headers(sent))).toEqual({ handle: 'edge-agent' })
    }
  })

  it('lets a request without a credential pass, unless one is required', async () => {
    const { ks } = await agent()
    expect(await checkRequestCredential(ks, headers({}))).toEqual({ handle: undefined })
    const { refusal } = await checkRequestCredential(ks, headers({}), { required: true })
    expect(refusal).toBeInstanceOf(AgentRevokedError)
    expect(refusal?.message).toContain('x-killswitch-credential: ks_...')
  })

  it("refuses a revoked or exhausted agent with verifyRefusal's error, never echoing the credential", async () => {
    const { ks, credential } = await agent(0)
    const exhausted = await checkRequestCredential(ks, headers({ 'x-api-key': credential }))
    expect(exhausted.refusal).toBeInstanceOf(SpendingCapExceededError)
    await ks.agents.revoke('edge-agent', { reason: 'test' })
    const revoked = await checkRequestCredential(ks, headers({ 'x-api-key': credential }))
    expect(revoked.refusal).toBeInstanceOf(AgentRevokedError)
    expect(revoked.refusal?.message).not.toContain(credential)
  })

  it('fails closed when the check cannot be made, keeping a kill switch error as it is', async () => {
    const sent = headers({ 'x-killswitch-credential': 'ks_anything' })
    const broken = { verify: () => Promise.reject(new Error('ECONNREFUSED')) }
    const { refusal } = await checkRequestCredential(broken, sent)
    expect(refusal).toBeInstanceOf(StoreUnavailableError)
    expect(refusal?.message).toContain('could not check the agent credential')
    const own = new StoreUnavailableError('redis is down')
    const down = { verify: () => Promise.reject(new Error('wrapped', { cause: own })) }
    expect((await checkRequestCredential(down, sent)).refusal).toBe(own)
    // A verifier that answers nothing usable (a custom one): closed too, not a crash.
    const empty = { verify: () => Promise.resolve(undefined as never) }
    expect((await checkRequestCredential(empty, sent)).refusal).toBeInstanceOf(
      StoreUnavailableError,
    )
  })

  // Red team r21: a revoked credential sent twice, or beside a valid one, passed the edge.
  it('refuses a revoked credential however it is written, and two different ones', async () => {
    const { ks, credential } = await agent()
    const { credential: revoked } = await ks.agents.create({ handle: 'gone', spendingCap: 1 })
    await ks.agents.revoke('gone')
    for (const sent of [
      { authorization: `Bearer ${revoked}, Bearer ${revoked}` },
      { authorization: `Token ${revoked}` },
      { authorization: `Bearer "${revoked}"` },
      { 'x-killswitch-credential': credential, authorization: `Bearer ${revoked}` },
      { 'x-killswitch-credential': credential, 'x-api-key': revoked },
    ]) {
      const { refusal } = await checkRequestCredential(ks, headers(sent))
      expect(refusal).toBeInstanceOf(AgentRevokedError)
    }
  })
})
