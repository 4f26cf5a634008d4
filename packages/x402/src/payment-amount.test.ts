import { encodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { getDefaultAsset } from '@x402/evm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  atomicToMicros,
  type PaymentAsset,
  paymentAmount as priced,
  signedAtomic,
  unpricedPayment,
} from './payment-amount.js'

const paymentAmount = (requirements: PaymentRequirements, assets: PaymentAsset[] = []) =>
  priced(requirements, assets, 2)

const USDC = getDefaultAsset('eip155:84532').asset
const requirements = (over: Partial<PaymentRequirements>): PaymentRequirements => ({
  scheme: 'exact',
  network: 'eip155:84532',
  asset: USDC,
  amount: '10000',
  payTo: '0x000000000000000000000000000000000000dEaD',
  maxTimeoutSeconds: 300,
  extra: {},
  ...over,
})

describe('paymentAmount', () => {
  it('prices USDC atomic units (6 decimals) in dollars', () => {
    expect(paymentAmount(requirements({}))).toEqual({
      atomic: 10000n,
      decimals: 6,
      micros: 10000,
      usd: 0.01,
    })
  })

  it('reads v1 requirements (maxAmountRequired, v1 network names)', () => {
    const v1 = {
      ...requirements({ network: 'base-sepolia' as never }),
      maxAmountRequired: '250000',
    }
    delete (v1 as Partial<PaymentRequirements>).amount
    expect(priced(v1, [], 1)?.usd).toBe(0.25)
  })

  it('prices the field x402 signs for the version, never a decoy beside it', () => {
    const both = { ...requirements({ amount: '1' }), maxAmountRequired: '900000' }
    expect(priced(both, [], 1)?.atomic).toBe(900000n) // v1 signs maxAmountRequired
    expect(priced(both, [], 2)?.atomic).toBe(1n) // v2 signs amount
    // v1 without maxAmountRequired cannot be priced, whatever `amount` says.
    expect(priced(requirements({ amount: '1' }), [], 1)).toBe(undefined)
  })

  it('prices only the schemes that sign the named amount (exact, upto)', () => {
    expect(paymentAmount(requirements({ scheme: 'upto' }))?.usd).toBe(0.01)
    expect(paymentAmount(requirements({ scheme: 'batch-settlement' }))).toBe(undefined)
    expect(paymentAmount(requirements({ scheme: 'EXACT' }))).toBe(undefined)
  })

  it('returns undefined for an asset it cannot price, or a malformed amount', () => {
    expect(
      paymentAmount(requirements({ asset: '0x1111111111111111111111111111111111111111' })),
    ).toBe(undefined)
    expect(paymentAmount(requirements({ amount: '-1' }))).toBe(undefined)
    expect(paymentAmount(requirements({ amount: '1.5' }))).toBe(undefined)
  })

  it('prices a listed asset with its decimals', () => {
    const asset = '0x1111111111111111111111111111111111111111'
    const listed = [
      { network: 'eip155:84532', asset: asset.toUpperCase().replace('0X', '0x'), decimals: 18 },
    ]
    expect(paymentAmount(requirements({ asset, amount: '10000000000000000' }), listed)?.usd).toBe(
      0.01,
    )
  })
})

describe('unpricedPayment', () => {
  it('names the rule and the fix for each reason a payment cannot be priced', () => {
    const scheme = unpricedPayment(requirements({ scheme: 'batch-settlement' }), [], 2)
    expect(scheme).toMatchObject({ rule: 'unknown_scheme', code: 'payment_refused' })
    expect(scheme.message).toContain('"batch-settlement"')
    const asset = unpricedPayment(
      requirements({ asset: '0x1111111111111111111111111111111111111111' }),
      [],
      2,
    )
    expect(asset).toMatchObject({ rule: 'unknown_asset' })
    expect(asset.message).toContain('assets: [')
    const amount = unpricedPayment(requirements({ amount: '1.5' }), [], 2)
    expect(amount).toMatchObject({ rule: 'bad_amount' })
    expect(amount.message).toContain('amount ("1.5")')
    expect(unpricedPayment(requirements({}), [], 1).message).toContain('maxAmountRequired')
  })
})

describe('signedAtomic', () => {
  const header = (payload: Record<string, unknown>) =>
    encodePaymentSignatureHeader({
      x402Version: 2,
      accepted: requirements({}),
      payload,
    } as never)

  it('reads the amount an EIP-3009 or Permit2 signature authorises', () => {
    expect(signedAtomic(header({ authorization: { value: '900000' } }))).toBe(900000n)
    expect(signedAtomic(header({ permit2Authorization: { permitted: { amount: '42' } } }))).toBe(
      42n,
    )
  })

  it('is undefined for a payload without an EVM authorisation, or a header that is not one', () => {
    expect(signedAtomic(header({ transaction: 'base64-solana-tx' }))).toBe(undefined)
    expect(signedAtomic('not base64 !')).toBe(undefined)
  })

  it('is null for an authorisation whose amount cannot be read (not sent)', () => {
    expect(signedAtomic(header({ authorization: { value: 'lots' } }))).toBe(null)
    expect(signedAtomic(header({ authorization: { value: 999_999 } }))).toBe(null)
    expect(signedAtomic(header({ authorization: { to: '0xabc' } }))).toBe(null)
    expect(signedAtomic(header({ permit2Authorization: { permitted: {} } }))).toBe(null)
  })
})

describe('atomicToMicros', () => {
  it('never counts less than was paid, and at most one micro-dollar more', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.integer({ min: 0, max: 24 }),
        (atomic, decimals) => {
          const micros = atomicToMicros(atomic, decimals)
          if (!Number.isFinite(micros)) return
          // micros / 1e6 >= atomic / 10^decimals, i.e. micros * 10^decimals >= atomic * 1e6
          const paid = atomic * 1_000_000n
          const counted = BigInt(micros) * 10n ** BigInt(decimals)
          expect(counted >= paid).toBe(true)
          expect(counted - paid < 10n ** BigInt(decimals)).toBe(true)
        },
      ),
    )
  })

  it('reports an amount beyond exact numbers as infinite, which no cap allows', () => {
    expect(atomicToMicros(10n ** 30n, 6)).toBe(Number.POSITIVE_INFINITY)
  })
})
