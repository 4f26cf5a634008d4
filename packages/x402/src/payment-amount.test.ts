import type { PaymentRequirements } from '@x402/core/types'
import { getDefaultAsset } from '@x402/evm'
import { describe, expect, it } from 'vitest'
import { pricedClaim } from './payee-claims.js'
import { type PaymentAsset, paymentAmount as priced } from './payment-amount.js'

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

describe('pricedClaim, for what cannot be priced', () => {
  const unpricedPayment = (r: PaymentRequirements, assets: PaymentAsset[], version: number) =>
    pricedClaim(r, assets, version).refusal as Error & { rule: string }

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
