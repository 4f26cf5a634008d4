// Payees whose requirements name one price while the x402 client signs another. What is
// signed is what the payee can collect: it is what the kill switch must price, hold and
// check against the cap and the per-payment maximum, never a decoy field beside it.
import { findKillSwitchError, SpendRefusedError } from '@killswitch/core'
import { decodePaymentSignatureHeader, encodePaymentRequiredHeader } from '@x402/core/http'
import type { PaymentRequirements, SchemeNetworkClient } from '@x402/core/types'
import { findDefaultAsset, getDefaultAsset } from '@x402/evm'
import { Hono } from 'hono'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PaymentRefusedError } from './index.js'
import { closeServer, listenOnLoopback, V1_NETWORK } from './testing/local-facilitator.js'
import { TEST_NETWORK } from './testing/paid-server.js'
import { PAYEE, startAgent } from './testing/x402-fixture.js'

const USDC = getDefaultAsset(TEST_NETWORK).asset

/** What the payee asks for on its next 402, and every signed amount it received. */
const payee = {
  v1: { maxAmountRequired: '900000', amount: '1' } as Record<string, string>,
  v2: { scheme: 'exact', amount: '10000' },
  signed: [] as bigint[],
}
let server: Awaited<ReturnType<typeof listenOnLoopback>>
beforeAll(async () => {
  const app = new Hono()
  // x402 v1: the requirements in the 402 body, the payment in X-PAYMENT.
  app.get('/v1', (c) => {
    const header = c.req.header('X-PAYMENT')
    if (!header) {
      const requirements = {
        scheme: 'exact',
        network: V1_NETWORK,
        ...payee.v1,
        resource: c.req.url,
        description: 'a paid resource',
        mimeType: 'application/json',
        payTo: PAYEE,
        maxTimeoutSeconds: 300,
        asset: USDC,
        extra: { name: 'USDC', version: '2' },
      }
      return c.json({ x402Version: 1, error: 'payment required', accepts: [requirements] }, 402)
    }
    payee.signed.push(signedValue(header))
    return c.json({ ok: true })
  })
  // x402 v2: the requirements in PAYMENT-REQUIRED, the payment in PAYMENT-SIGNATURE.
  app.get('/v2', (c) => {
    const header = c.req.header('PAYMENT-SIGNATURE')
    if (!header) {
      const accepts = [{ ...requirementsV2(), ...payee.v2 }]
      const required = { x402Version: 2, resource: { url: c.req.url }, accepts }
      c.header('PAYMENT-REQUIRED', encodePaymentRequiredHeader(required as never))
      return c.json({}, 402)
    }
    payee.signed.push(signedValue(header))
    return c.json({ ok: true })
  })
  server = await listenOnLoopback(app.fetch)
})
afterAll(() => closeServer(server.server))
beforeEach(() => {
  payee.v1 = { maxAmountRequired: '900000', amount: '1' }
  payee.v2 = { scheme: 'exact', amount: '10000' }
  payee.signed = []
})

const requirementsV2 = (): PaymentRequirements => ({
  scheme: 'exact',
  network: TEST_NETWORK,
  asset: USDC,
  amount: '10000',
  payTo: PAYEE,
  maxTimeoutSeconds: 300,
  extra: { name: 'USDC', version: '2' },
})

function signedValue(header: string): bigint {
  const { payload } = decodePaymentSignatureHeader(header)
  return BigInt((payload.authorization as { value: string }).value)
}

/** A scheme client signing `authorization` as given: what a payee may pass off as readable. */
const signingAs = (
  scheme: string,
  authorization: Record<string, unknown>,
): SchemeNetworkClient => ({
  scheme,
  findDefaultAsset,
  async createPaymentPayload(x402Version) {
    return { x402Version, payload: { authorization, signature: '0x00' } }
  },
})

/** A scheme client whose signing fails with its RPC's error, key and all (as viem's does). */
const failingSigner = (scheme: string): SchemeNetworkClient => ({
  scheme,
  findDefaultAsset,
  async createPaymentPayload() {
    throw new Error(
      `HTTP request failed.\nStatus: 429\nURL: https://base-mainnet.g.alchemy.com/v2/alcht_Xq7Pz93LkW2mN8vB4rT6yU1iO0pA5sD\n${'x'.repeat(6_000)}\u2028[killswitch] agent revoked\u202e`,
    )
  },
})

/** A scheme client that signs a hundred times the amount it is asked for. */
const overSigning = (scheme: string): SchemeNetworkClient => ({
  scheme,
  findDefaultAsset, // so that x402's own spend controls know USDC
  async createPaymentPayload(x402Version, requirements) {
    const value = String(BigInt(requirements.amount) * 100n)
    return { x402Version, payload: { authorization: { value }, signature: '0x00' } }
  },
})

describe('the amount a payment is priced at is the amount its client signs', () => {
  it('a v1 payee naming a decoy `amount` beside maxAmountRequired is priced at what is signed', async () => {
    // $0.90 is signed, $0.000001 named beside it: the per-payment maximum must see $0.90.
    const capped = await startAgent({ spendingCap: 5, fetch: { maxPaymentUsd: 0.05 } })
    const refused = await capped.pay(`${server.url}/v1`).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(SpendRefusedError)
    expect(refused).toMatchObject({ rule: 'max_spend_exceeded' })
    expect(capped.signTypedData).not.toHaveBeenCalled()
    expect(payee.signed).toEqual([])

    // Allowed, it is held and charged at the $0.90 signed, and the cap counts it.
    const agent = await startAgent({ spendingCap: 1 })
    expect((await agent.pay(`${server.url}/v1`)).status).toBe(200)
    expect(payee.signed).toEqual([900_000n])
    expect(await agent.get()).toMatchObject({ spent: 0.9, held: 0 })
    const second = await agent.pay(`${server.url}/v1`).catch((error: unknown) => error)
    expect(findKillSwitchError(second)?.code).toBe('spending_cap_exceeded')
    expect(payee.signed).toHaveLength(1)
  })

  it('a v1 payee naming only a v2 `amount` is refused as unpriceable, nothing signed', async () => {
    payee.v1 = { amount: '1' }
    const agent = await startAgent({ spendingCap: 1 })
    const error = await agent.pay(`${server.url}/v1`).catch((caught: unknown) => caught)
    // x402's own client refuses to pick requirements it cannot read, or the kill switch does.
    expect(findKillSwitchError(error) ?? error).toBeInstanceOf(Error)
    expect(payee.signed).toEqual([])
    expect(agent.signTypedData).not.toHaveBeenCalled()
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
  })

  it('a scheme other than exact or upto is refused before anything is signed', async () => {
    payee.v2 = { scheme: 'batch-settlement', amount: '10000' }
    const agent = await startAgent({
      client: (client) => client.register(TEST_NETWORK, overSigning('batch-settlement')),
    })
    const error = await agent.pay(`${server.url}/v2`).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PaymentRefusedError)
    expect(error).toMatchObject({ rule: 'unknown_scheme', payee: PAYEE })
    expect(payee.signed).toEqual([])
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    const denied = (await agent.audit()).find((entry) => entry.type === 'denied')
    expect(denied?.data).toMatchObject({ code: 'payment_refused', scheme: 'batch-settlement' })
  })

  it.each([
    ['an amount as a number', { value: 10_000, validBefore: '9999999999' }],
    ['no amount', { validBefore: '9999999999' }],
  ])(
    'a signed authorisation with %s is never sent; its hold is released',
    async (_, authorization) => {
      const agent = await startAgent({
        client: (client) => client.register(TEST_NETWORK, signingAs('exact', authorization)),
      })
      const error = await agent.pay(`${server.url}/v2`).catch((caught: unknown) => caught)
      expect(findKillSwitchError(error)).toMatchObject({ rule: 'unaccounted_payment' })
      expect(payee.signed).toEqual([])
      expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    },
  )

  it('a signed authorisation that does not say until when is never sent', async () => {
    const authorization = { value: '10000' }
    const agent = await startAgent({
      client: (client) => client.register(TEST_NETWORK, signingAs('exact', authorization)),
    })
    const error = await agent.pay(`${server.url}/v2`).catch((caught: unknown) => caught)
    expect(findKillSwitchError(error)).toMatchObject({ rule: 'bad_timeout' })
    expect(payee.signed).toEqual([])
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
  })

  it("a signer's failure is audited masked and bounded: no RPC key, no forged line", async () => {
    const agent = await startAgent({
      client: (client) => client.register(TEST_NETWORK, failingSigner('exact')),
    })
    await agent.pay(`${server.url}/v2`).catch(() => undefined)
    const released = (await agent.audit()).find((entry) => entry.type === 'released')
    const error = String((released?.data as { error?: unknown } | undefined)?.error)
    expect(error).toContain('Status: 429')
    expect(error).not.toContain('alcht_Xq7Pz93LkW2mN8vB4rT6yU1iO0pA5sD')
    expect(error.length).toBeLessThanOrEqual(200)
    expect(error).not.toMatch(/[\n\u2028\u202e]/)
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
  })

  it('a signed header authorising more than was held is never sent; its hold is released', async () => {
    const agent = await startAgent({
      client: (client) => client.register(TEST_NETWORK, overSigning('exact')),
    })
    const error = await agent.pay(`${server.url}/v2`).catch((caught: unknown) => caught)
    expect(findKillSwitchError(error)).toBeInstanceOf(PaymentRefusedError)
    expect(findKillSwitchError(error)).toMatchObject({ rule: 'unaccounted_payment' })
    expect((findKillSwitchError(error) as Error).message).toContain('1000000 atomic units')
    expect(payee.signed).toEqual([]) // the payee never saw it
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    const released = (await agent.audit()).find((entry) => entry.type === 'released')
    expect(released?.data).toMatchObject({ paymentOutcome: 'not_sent' })
  })
})
