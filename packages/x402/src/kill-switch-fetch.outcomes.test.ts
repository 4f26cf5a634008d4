// Each way a sent payment can end, and what the ledger says afterwards.
import { AgentRevokedError, findKillSwitchError } from '@killswitch/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PaymentOutcomeUnknownError } from './payment-outcome-unknown-error.js'
import { PAYEE, startAgent, startNetwork } from './testing/x402-fixture.js'

let network: Awaited<ReturnType<typeof startNetwork>>
beforeAll(async () => {
  network = await startNetwork()
})
afterAll(() => network?.close())
beforeEach(() => {
  network.server.route.handler = 'ok'
  network.server.route.beforeServe = undefined
  network.facilitator.chain.verify = 'ok'
  network.facilitator.chain.settle = 'ok'
})

const released = async (agent: Awaited<ReturnType<typeof startAgent>>) =>
  (await agent.audit()).filter((entry) => entry.type === 'released').map((entry) => entry.data)

describe('killSwitchFetch: outcomes of a sent payment', () => {
  it('releases a payment the facilitator refuses to verify', async () => {
    const agent = await startAgent()
    network.facilitator.chain.verify = 'fail'
    const response = await agent.pay(`${network.server.url}/search?q=1`)

    expect(response.status).toBe(402)
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await released(agent)).toEqual([
      expect.objectContaining({ outcome: 'verify_failed', payee: PAYEE, status: 402 }),
    ])
  })

  it('releases a payment whose settlement fails on chain', async () => {
    const agent = await startAgent()
    network.facilitator.chain.settle = 'revert'
    const response = await agent.pay(`${network.server.url}/search?q=1`)

    expect(response.status).toBe(402)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await released(agent)).toEqual([
      expect.objectContaining({ outcome: 'settle_failed', errorReason: expect.any(String) }),
    ])
  })

  it('releases a payment the server did not settle because its handler failed', async () => {
    const agent = await startAgent()
    const transfers = network.facilitator.transfers.length
    network.server.route.handler = 'error'
    const response = await agent.pay(`${network.server.url}/search?q=1`)

    expect(response.status).toBe(500)
    expect(network.facilitator.transfers.length).toBe(transfers)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await released(agent)).toEqual([
      expect.objectContaining({ outcome: 'handler_error', status: 500 }),
    ])
  })

  it('keeps the hold of a payment whose response never came, until the authorisation expires', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z')
    const agent = await startAgent({ killSwitch: { now: () => clock } })
    const transfers = network.facilitator.transfers.length
    network.server.route.handler = 'drop'
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)

    // The server did settle: the money moved, and the client could not know it.
    expect(network.facilitator.transfers.length).toBe(transfers + 1)
    expect(error).toBeInstanceOf(PaymentOutcomeUnknownError)
    expect(error).toMatchObject({ payee: PAYEE, amountUsd: 0.01 })
    expect((error as Error).cause).toBeInstanceOf(Error)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0.01 })
    expect(await released(agent)).toEqual([])
    const unknown = (await agent.audit()).find((entry) => entry.type === 'outcome_unknown')
    expect(unknown?.data).toMatchObject({ payee: PAYEE, amount: 0.01, reason: 'no_response' })
    expect(unknown?.summary).toContain('stays held until')

    // The route's authorisation is valid for 300 s (x402's default maxTimeoutSeconds).
    clock += 299_000
    expect(await agent.get()).toMatchObject({ held: 0.01, available: 0.99 })
    clock += 120_000
    expect(await agent.get()).toMatchObject({ held: 0 })
  })

  it('aborts a paid request in flight on revocation, and keeps its hold: it may settle', async () => {
    const agent = await startAgent()
    const transfers = network.facilitator.transfers.length
    network.server.route.beforeServe = async () => {
      await agent.ks.agents.revoke(agent.handle, { reason: 'operator' })
    }
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(PaymentOutcomeUnknownError)
    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0.01 })
    // Revocation cannot recall an authorisation already sent: the server still settles it.
    await expect
      .poll(() => network.facilitator.transfers.length, { timeout: 10_000 })
      .toBe(transfers + 1)
  })

  it('releases a payment signed but aborted before it was sent', async () => {
    const agent = await startAgent()
    const controller = new AbortController()
    // Runs after the kill switch's own hook: the payment is reserved and signed.
    agent.client.onAfterPaymentCreation(async () => controller.abort(new Error('caller gave up')))
    await expect(
      agent.pay(`${network.server.url}/search?q=1`, { signal: controller.signal }),
    ).rejects.toThrow('caller gave up')

    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await released(agent)).toEqual([expect.objectContaining({ outcome: 'not_sent' })])
  })
})
