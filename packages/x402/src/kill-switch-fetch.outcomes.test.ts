// Each way a sent payment can end with an honest payee, and what the ledger says
// afterwards. A signature that left the process is money (the payee can submit it until it
// expires), so every one of these is charged; only a payment never sent is released.
import { AgentRevokedError, findKillSwitchError } from '@killswitch/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PaymentOutcomeUnknownError } from './index.js'
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

type Agent = Awaited<ReturnType<typeof startAgent>>
const entries = async (agent: Agent, type: string) =>
  (await agent.audit()).filter((entry) => entry.type === type).map((entry) => entry.data)

describe('killSwitchFetch: a sent payment is charged whatever the answer', () => {
  it('charges a payment the facilitator refused to verify: the signature is still valid', async () => {
    const agent = await startAgent()
    network.facilitator.chain.verify = 'fail'
    const response = await agent.pay(`${network.server.url}/search?q=1`)

    expect(response.status).toBe(402)
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    expect(await entries(agent, 'released')).toEqual([])
    expect(await entries(agent, 'settled')).toEqual([
      expect.objectContaining({
        paymentOutcome: 'outcome_unknown',
        reason: 'payment_required',
        payee: PAYEE,
        status: 402,
        validUntil: expect.any(String),
      }),
    ])
  })

  it('charges a payment whose settlement failed on chain: the payee may submit it again', async () => {
    const agent = await startAgent()
    network.facilitator.chain.settle = 'revert'
    const response = await agent.pay(`${network.server.url}/search?q=1`)

    expect(response.status).toBe(402)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    expect(await entries(agent, 'settled')).toEqual([
      expect.objectContaining({
        paymentOutcome: 'outcome_unknown',
        reason: 'settle_failed',
        errorReason: expect.any(String),
      }),
    ])
  })

  it('charges a payment whose handler failed (500): the payee holds the signature', async () => {
    const agent = await startAgent()
    network.server.route.handler = 'error'
    const response = await agent.pay(`${network.server.url}/search?q=1`)

    expect(response.status).toBe(500)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    expect(await entries(agent, 'settled')).toEqual([
      expect.objectContaining({ paymentOutcome: 'outcome_unknown', reason: 'server_error' }),
    ])
  })

  it('charges a payment whose response never came, and says so with PaymentOutcomeUnknownError', async () => {
    const agent = await startAgent()
    const transfers = network.facilitator.transfers.length
    network.server.route.handler = 'drop'
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)

    // The server did settle: the money moved, and the client could not know it.
    expect(network.facilitator.transfers.length).toBe(transfers + 1)
    expect(error).toBeInstanceOf(PaymentOutcomeUnknownError)
    expect(error).toMatchObject({ payee: PAYEE, amountUsd: 0.01 })
    expect((error as Error).cause).toBeInstanceOf(Error)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    expect(await entries(agent, 'settled')).toEqual([
      expect.objectContaining({ paymentOutcome: 'outcome_unknown', reason: 'no_response' }),
    ])
  })

  it('charges a paid request aborted in flight by revocation: the payee still settles it', async () => {
    const agent = await startAgent()
    const transfers = network.facilitator.transfers.length
    network.server.route.beforeServe = async () => {
      await agent.ks.agents.revoke(agent.handle, { reason: 'operator' })
    }
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(PaymentOutcomeUnknownError)
    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    // Revocation cannot recall an authorisation already sent: the server still settles it.
    await expect
      .poll(() => network.facilitator.transfers.length, { timeout: 10_000 })
      .toBe(transfers + 1)
  })
})

describe('killSwitchFetch: a payment never sent is released', () => {
  it('releases a payment signed but aborted before it was sent', async () => {
    const agent = await startAgent()
    const served = network.server.served
    const controller = new AbortController()
    // Runs after the kill switch's own hook: the payment is reserved and signed.
    agent.client.onAfterPaymentCreation(async () => controller.abort(new Error('caller gave up')))
    await expect(
      agent.pay(`${network.server.url}/search?q=1`, { signal: controller.signal }),
    ).rejects.toThrow('caller gave up')

    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    expect(network.server.served).toBe(served) // nothing reached the handler
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await entries(agent, 'released')).toEqual([
      expect.objectContaining({ paymentOutcome: 'not_sent' }),
    ])
  })

  it('releases a payment whose signing failed', async () => {
    const agent = await startAgent()
    agent.signTypedData.mockRejectedValueOnce(new Error('hardware wallet unplugged'))
    await expect(agent.pay(`${network.server.url}/search?q=1`)).rejects.toThrow(
      /hardware wallet unplugged/,
    )
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await entries(agent, 'released')).toEqual([
      expect.objectContaining({ paymentOutcome: 'not_sent' }),
    ])
  })
})
