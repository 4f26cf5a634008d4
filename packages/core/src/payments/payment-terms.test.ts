// A payee's terms, checked before anything is held: what the ledger cannot record exactly,
// or cannot hold at all, is refused by a named rule, never guessed or held as free.
import { describe, expect, it } from 'vitest'
import { MAX_CAP_USD } from '../money.js'
import { paymentPrice, paymentTermsRule } from './payment-terms.js'
import { MAX_VALIDITY_SECONDS } from './signed-payment.js'

const PAYEE = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
const terms = { payee: PAYEE, asset: PAYEE, validitySeconds: 300 }

describe('paymentTermsRule', () => {
  it('accepts addresses and a validity of whole seconds up to a day', () => {
    expect(paymentTermsRule(terms)).toBe(undefined)
    expect(paymentTermsRule({ ...terms, payee: 'So1anaBase58Address' })).toBe(undefined)
    expect(paymentTermsRule({ ...terms, validitySeconds: MAX_VALIDITY_SECONDS })).toBe(undefined)
  })

  it('names the first rule broken: payee, asset, validity', () => {
    for (const payee of ['', 'a b', 'x'.repeat(201), 5, undefined, '0x\n[killswitch]']) {
      expect(paymentTermsRule({ ...terms, payee, asset: 5 })).toBe('bad_payee')
    }
    expect(paymentTermsRule({ ...terms, asset: '', validitySeconds: 0 })).toBe('bad_asset')
    for (const validitySeconds of [0, 1.5, '300', Number.NaN, MAX_VALIDITY_SECONDS + 1]) {
      expect(paymentTermsRule({ ...terms, validitySeconds })).toBe('bad_timeout')
    }
  })
})

describe('paymentPrice', () => {
  it('prices atomic units of a USD token in micro-dollars, rounded up', () => {
    expect(paymentPrice('exact', '10000', 6)).toEqual({
      amount: { atomic: 10000n, decimals: 6, micros: 10000, usd: 0.01 },
    })
    expect(paymentPrice('upto', '1', 18).amount).toMatchObject({ micros: 1 })
  })

  it('refuses a scheme that may sign another amount, an unknown asset, an amount not atomic units', () => {
    expect(paymentPrice('batch-settlement', '1', 6)).toEqual({ rule: 'unknown_scheme' })
    expect(paymentPrice('EXACT', '1', 6)).toEqual({ rule: 'unknown_scheme' })
    expect(paymentPrice('exact', '1', undefined)).toEqual({ rule: 'unknown_asset' })
    for (const atomic of ['1.5', '-1', 1, undefined]) {
      expect(paymentPrice('exact', atomic, 6)).toEqual({ rule: 'bad_amount' })
    }
  })

  it('refuses more than any cap holds, with its amount', () => {
    const atomic = String(BigInt(MAX_CAP_USD) * 1_000_000n + 1n)
    expect(paymentPrice('exact', atomic, 6)).toMatchObject({
      rule: 'bad_amount',
      amount: { atomic: BigInt(atomic) },
    })
    expect(paymentPrice('exact', String(BigInt(MAX_CAP_USD) * 1_000_000n), 6).rule).toBe(undefined)
  })
})
