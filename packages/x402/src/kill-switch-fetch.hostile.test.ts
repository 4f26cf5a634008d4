// Payees that cheat. Each takes the signed authorisation and answers so as to hide or
// understate what it collects; whatever it answers, the ledger must record exactly what it
// can collect, and a cap must bound what it collects however the agent loops.
import { SpendingCapExceededError } from '@killswitch/core'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PaymentOutcomeUnknownError } from './index.js'
import type { SettlementClaim } from './payment-charge.js'
import {
  type HostileBehaviour,
  type HostilePayee,
  startHostilePayee,
} from './testing/hostile-payee.js'
import { type LocalFacilitator, startLocalFacilitator } from './testing/local-facilitator.js'
import { TEST_NETWORK } from './testing/paid-server.js'
import { startAgent } from './testing/x402-fixture.js'

let facilitator: LocalFacilitator
let payee: HostilePayee
beforeAll(async () => {
  facilitator = await startLocalFacilitator([TEST_NETWORK])
  payee = await startHostilePayee(facilitator)
})
afterAll(async () => {
  await payee?.close()
  await facilitator?.close()
})
beforeEach(() => {
  payee.route.scheme = 'exact'
  payee.route.maxTimeoutSeconds = 300
  payee.route.onPaid = undefined
})

type Agent = Awaited<ReturnType<typeof startAgent>>
const micros = (usd: number) => Math.round(usd * 1_000_000)

/**
 * One paid call, however it ends. A payee that never answers is given up on by the caller
 * once the payee has the signature (as a caller's timeout would).
 */
async function call(agent: Agent, path = '/paid'): Promise<{ status?: number; error?: unknown }> {
  const controller = new AbortController()
  payee.route.onPaid =
    payee.route.behaviour === 'keep-and-hang'
      ? () => controller.abort(new Error('the caller timed out'))
      : undefined
  try {
    const response = await agent.pay(`${payee.url}${path}`, { signal: controller.signal })
    return { status: response.status }
  } catch (error) {
    return { error }
  }
}

/** Pays until the cap refuses (or 20 calls); returns the refusal. */
async function loop(agent: Agent, path?: string): Promise<unknown> {
  for (let i = 0; i < 20; i++) {
    const { error } = await call(agent, path)
    if (error instanceof SpendingCapExceededError) return error
  }
  return undefined
}

const behaviours: HostileBehaviour[] = [
  'settle-then-500',
  'settle-then-402',
  'claim-zero',
  'claim-more',
  'claim-failed',
  'settle-no-header',
  'settle-then-drop',
  'keep-and-hang',
  'keep-and-refuse',
]

describe.each(['exact', 'upto'] as const)('a hostile payee, %s scheme', (scheme) => {
  describe.each(behaviours)('that does %s', (behaviour) => {
    beforeEach(() => {
      payee.route.scheme = scheme
      payee.route.behaviour = behaviour
    })

    it('is recorded at exactly what it collects, to the micro-dollar', async () => {
      const agent = await startAgent({ spendingCap: 1 })
      const before = payee.collected()
      await call(agent)
      await payee.collectAll()

      const collected = payee.collected() - before
      expect(collected).toBe(10_000n)
      const state = await agent.get()
      expect(micros(state.spent)).toBe(Number(collected))
      expect(state.held).toBe(0)
    })

    it('collects no more than a $0.05 cap however the agent loops', async () => {
      const agent = await startAgent({ spendingCap: 0.05 })
      const before = payee.collected()
      const refusal = await loop(agent)
      await payee.collectAll()

      expect(refusal).toBeInstanceOf(SpendingCapExceededError)
      expect(payee.collected() - before).toBe(50_000n)
      expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
      // The refused call signed nothing.
      expect(agent.signTypedData).toHaveBeenCalledTimes(5)
    })
  })
})

describe('a hostile payee: what the audit log says', () => {
  const settledEntry = async (agent: Agent) =>
    (await agent.audit()).find((entry) => entry.type === 'settled')?.data

  it('an exact payment settled at its amount whatever amount the payee claims', async () => {
    payee.route.behaviour = 'claim-zero'
    const agent = await startAgent()
    expect((await call(agent)).status).toBe(200)
    expect(await settledEntry(agent)).toMatchObject({
      paymentOutcome: 'settled',
      claimedAtomic: '0',
      chargedAtomic: '10000',
      suspicious: 'claimed_less_than_exact_amount',
    })
  })

  it('a claim of more than was authorised is capped at the authorised amount and flagged', async () => {
    payee.route.behaviour = 'claim-more'
    const agent = await startAgent()
    expect((await call(agent)).status).toBe(200)
    expect(micros((await agent.get()).spent)).toBe(10_000)
    expect(await settledEntry(agent)).toMatchObject({
      claimedAtomic: '20000',
      chargedAtomic: '10000',
      suspicious: 'claimed_more_than_authorised',
    })
  })

  it('no proof of settlement is charged in full, outcome unknown until the authorisation expires', async () => {
    payee.route.behaviour = 'settle-then-402'
    const agent = await startAgent()
    const signedAt = Date.now()
    expect((await call(agent)).status).toBe(402)
    const entry = await settledEntry(agent)
    expect(entry).toMatchObject({
      paymentOutcome: 'outcome_unknown',
      reason: 'payment_required',
      status: 402,
      chargedAtomic: '10000',
    })
    // x402's exact scheme signs an authorisation valid for maxTimeoutSeconds (300 s).
    const validUntil = Date.parse(String(entry?.validUntil))
    expect(validUntil).toBeGreaterThan(signedAt + 290_000)
    expect(validUntil).toBeLessThan(Date.now() + 310_000)
  })

  it('a dropped connection is charged in full and reported as PaymentOutcomeUnknownError', async () => {
    payee.route.behaviour = 'settle-then-drop'
    const agent = await startAgent()
    const { error } = await call(agent)
    expect(error).toBeInstanceOf(PaymentOutcomeUnknownError)
    expect(error).toMatchObject({ payee: payee.payTo, amountUsd: 0.01 })
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    expect(await settledEntry(agent)).toMatchObject({
      paymentOutcome: 'outcome_unknown',
      reason: 'no_response',
    })
  })

  it('an upto payee claiming less than it took is charged what the chain shows it took', async () => {
    payee.route.scheme = 'upto'
    payee.route.behaviour = 'claim-zero'
    // A verifier that reads the (stub) chain, not the payee's header.
    const verifySettlement = (claim: SettlementClaim) => {
      const transfer = facilitator.transfers.find(
        (entry) => entry.transaction === claim.transaction,
      )
      return transfer ? BigInt(transfer.value) : undefined
    }
    const agent = await startAgent({ spendingCap: 0.05, fetch: { verifySettlement } })
    const before = payee.collected()
    expect(await loop(agent)).toBeInstanceOf(SpendingCapExceededError)
    expect(payee.collected() - before).toBe(50_000n)
    expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
    expect(await settledEntry(agent)).toMatchObject({
      basis: 'verified',
      claimedAtomic: '0',
      chargedAtomic: '10000',
      suspicious: 'claim_differs_from_verified',
    })
  })
})

describe('a payee whose facilitator never settles', () => {
  it('is recorded at what it collects later, and bounded by the cap', async () => {
    payee.route.behaviour = 'settle-then-500' // not used by /stalled
    const agent = await startAgent({ spendingCap: 0.05 })
    const before = payee.collected()
    const received = payee.received
    const first = await call(agent, '/stalled')
    // The honest middleware gave up on its facilitator: no settlement proof came back.
    expect(first.status).toBeGreaterThanOrEqual(400)
    expect(payee.received).toBe(received + 1)
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })

    expect(await loop(agent, '/stalled')).toBeInstanceOf(SpendingCapExceededError)
    // The facilitator kept every signature it was sent: they are all collectable.
    await payee.collectAll()
    expect(payee.collected() - before).toBe(50_000n)
    expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
  })
})

describe('a payee that never answers and a caller that sets no timeout', () => {
  it('ends the call when the authorisation expires, charged in full', async () => {
    // The facilitator refuses authorisations with under 6 s left: 8 s is the shortest that
    // the payee can still collect.
    payee.route.maxTimeoutSeconds = 8
    payee.route.behaviour = 'settle-then-hang'
    const agent = await startAgent()
    const before = payee.collected()
    const error = await agent.pay(`${payee.url}/paid`).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(PaymentOutcomeUnknownError)
    expect(payee.collected() - before).toBe(10_000n)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
  }, 30_000)
})

describe('hostile payees, paid in parallel', () => {
  it('record exactly what they collect, and collect no more than the cap', async () => {
    // The payees that answer (or drop the connection) on their own: a hang needs a caller's timeout.
    const answering = behaviours.filter((behaviour) => behaviour !== 'keep-and-hang')
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }), // cap in cents
        fc.array(fc.tuple(fc.constantFrom(...answering), fc.constantFrom('exact', 'upto')), {
          minLength: 1,
          maxLength: 12,
        }),
        async (capCents, calls) => {
          const agent = await startAgent({ spendingCap: capCents / 100 })
          const before = payee.collected()
          const results = await Promise.allSettled(
            calls.map(([b, s]) => agent.pay(`${payee.url}/paid?b=${b}&s=${s}`)),
          )
          await payee.collectAll()

          const collected = payee.collected() - before
          const state = await agent.get()
          expect(micros(state.spent)).toBe(Number(collected))
          expect(state.held).toBe(0)
          expect(collected).toBe(BigInt(Math.min(calls.length, capCents) * 10_000))
          const refused = results.filter(
            (result) =>
              result.status === 'rejected' && result.reason instanceof SpendingCapExceededError,
          )
          expect(refused).toHaveLength(Math.max(0, calls.length - capCents))
        },
      ),
      { numRuns: 12 },
    )
  }, 120_000)
})
