import type { PaymentRequirements } from '@x402/core/types'
import { getDefaultAsset } from '@x402/evm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { atomicToMicros, paymentAmount } from './payment-amount.js'

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
    expect(paymentAmount(v1)?.usd).toBe(0.25)
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
