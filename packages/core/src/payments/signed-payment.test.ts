// The charge rule, for every answer a payee can give: never less than it can collect,
// never more than was authorised.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_VALIDITY_SECONDS,
  type PaymentOutcome,
  paymentCharge,
  provenAmount,
  type SentPayment,
  signedValidity,
} from './signed-payment.js'

const NETWORK = 'eip155:84532'
const payment = (scheme: string, atomic: bigint): SentPayment => ({
  scheme,
  network: NETWORK,
  atomic,
})

const atomic = fc.bigInt({ min: 0n, max: 10n ** 12n })
const outcome: fc.Arbitrary<PaymentOutcome> = fc.oneof(
  fc.record({
    reason: fc.constant('settled' as const),
    claimedAtomic: fc.option(atomic, { nil: undefined }),
    claimedAmount: fc.option(fc.string(), { nil: undefined }),
    transaction: fc.option(fc.string(), { nil: undefined }),
    network: fc.option(fc.constantFrom(NETWORK, 'eip155:1'), { nil: undefined }),
    status: fc.integer({ min: 100, max: 599 }),
  }),
  fc.record({
    reason: fc.constantFrom(
      'settle_failed',
      'payment_required',
      'server_error',
      'no_settlement',
      'no_response',
    ),
    status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
    errorReason: fc.option(fc.string(), { nil: undefined }),
  }),
)

describe('paymentCharge', () => {
  it('charges exact at its amount, whatever the payee says or a verifier returns', () => {
    fc.assert(
      fc.property(atomic, outcome, fc.option(atomic, { nil: undefined }), (amount, o, verified) => {
        expect(paymentCharge(payment('exact', amount), o, { atomic: verified }).atomic).toBe(amount)
      }),
    )
  })

  it('charges any other scheme at most its authorised amount, and the whole of it unless verified', () => {
    fc.assert(
      fc.property(atomic, outcome, fc.option(atomic, { nil: undefined }), (amount, o, verified) => {
        const charge = paymentCharge(payment('upto', amount), o, { atomic: verified })
        expect(charge.atomic <= amount).toBe(true)
        const proven = o.reason === 'settled' && verified !== undefined
        const expected = proven && verified < amount ? verified : amount
        expect(charge.atomic).toBe(expected)
        expect(charge.details.basis).toBe(proven ? 'verified' : 'authorised')
        expect(charge.details.chargedAtomic).toBe(String(expected))
      }),
    )
  })

  it('an answer without settlement proof is outcome_unknown', () => {
    const charge = paymentCharge(payment('exact', 10_000n), {
      reason: 'server_error',
      status: 500,
    })
    expect(charge).toEqual({
      atomic: 10_000n,
      details: {
        status: 500,
        paymentOutcome: 'outcome_unknown',
        reason: 'server_error',
        chargedAtomic: '10000',
        basis: 'authorised',
      },
    })
  })

  it('flags claims that do not add up', () => {
    const settled = (extra: Partial<PaymentOutcome>): PaymentOutcome => ({
      reason: 'settled',
      transaction: '0xabc',
      network: NETWORK,
      status: 200,
      ...extra,
    })
    const exact = payment('exact', 10_000n)
    const upto = payment('upto', 10_000n)
    const flag = (p: SentPayment, o: PaymentOutcome, v?: bigint) =>
      paymentCharge(p, o, { atomic: v }).details.suspicious
    expect(flag(exact, settled({ claimedAtomic: 10_000n }))).toBeUndefined()
    expect(flag(exact, settled({ claimedAtomic: 0n }))).toBe('claimed_less_than_exact_amount')
    expect(flag(upto, settled({ claimedAtomic: 0n }))).toBeUndefined()
    expect(flag(exact, settled({ claimedAtomic: 20_000n }))).toBe('claimed_more_than_authorised')
    expect(flag(upto, settled({ claimedAtomic: 20_000n }))).toBe('claimed_more_than_authorised')
    expect(flag(exact, settled({ network: 'eip155:1' }))).toBe('settlement_network_mismatch')
    expect(flag(exact, settled({ claimedAmount: 'lots' }))).toBe('settlement_amount_unreadable')
    expect(flag(upto, settled({}), 20_000n)).toBe('verified_more_than_authorised')
    expect(flag(upto, settled({ claimedAtomic: 1n }), 5n)).toBe('claim_differs_from_verified')
  })
})

describe('provenAmount', () => {
  const settled: PaymentOutcome = { reason: 'settled', status: 200 }
  const upto = payment('upto', 10_000n)

  it('asks only about a claimed settlement of a scheme that may charge less', async () => {
    const prove = () => 5n
    expect(await provenAmount(upto, settled, prove, 'verify')).toEqual({ atomic: 5n })
    expect(await provenAmount(payment('exact', 10_000n), settled, prove, 'verify')).toEqual({})
    expect(await provenAmount(upto, { reason: 'no_settlement' }, prove, 'verify')).toEqual({})
    expect(await provenAmount(upto, settled, undefined, 'verify')).toEqual({})
  })

  it('proves nothing from a failure or an answer that is not an atomic amount', async () => {
    const error = 'verify returned no bigint amount >= 0'
    expect(await provenAmount(upto, settled, () => -1n, 'verify')).toEqual({ error })
    expect(await provenAmount(upto, settled, () => 5 as never, 'verify')).toEqual({ error })
    const thrown = () => Promise.reject(new Error(`rpc down\n${'x'.repeat(500)}`))
    const failed = await provenAmount(upto, settled, thrown, 'verify')
    expect(failed.error?.startsWith('rpc down\\u000a')).toBe(true)
    expect(failed.error).toHaveLength(200)
    expect(await provenAmount(upto, settled, () => undefined, 'verify')).toEqual({})
  })
})

describe('signedValidity', () => {
  const now = 1_800_000_000_000

  it('reads seconds since the epoch, written as digits, up to a day ahead', () => {
    expect(signedValidity(String(now / 1000 + 5), now)).toBe(now + 5_000)
    const day = String(now / 1000 + MAX_VALIDITY_SECONDS)
    expect(signedValidity(day, now)).toBe(now + MAX_VALIDITY_SECONDS * 1000)
  })

  it('is undefined for a validity unreadable, past, or more than a day ahead', () => {
    const beyond = String(now / 1000 + MAX_VALIDITY_SECONDS + 1)
    for (const until of ['soon', 300, String(now / 1000), beyond, undefined]) {
      expect(signedValidity(until, now)).toBe(undefined)
    }
  })
})
