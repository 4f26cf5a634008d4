import { encodePaymentRequiredHeader, encodePaymentResponseHeader } from '@x402/core/http'
import { describe, expect, it } from 'vitest'
import { paymentOutcome } from './payment-outcome.js'

const headers = (entries: Record<string, string>) => (name: string) =>
  new Headers(entries).get(name)
const settlement = (success: boolean, extra: object = {}) =>
  encodePaymentResponseHeader({
    success,
    transaction: '0xabc',
    network: 'eip155:84532',
    ...extra,
  })

describe('paymentOutcome', () => {
  it('settled, with the amount an upto payment really charged', () => {
    const header = settlement(true, { amount: '20000' })
    expect(paymentOutcome(200, headers({ 'PAYMENT-RESPONSE': header }))).toEqual({
      type: 'settled',
      settledAtomic: 20000n,
      transaction: '0xabc',
      status: 200,
    })
  })

  it('reads the v1 settlement header', () => {
    const header = settlement(true)
    expect(paymentOutcome(200, headers({ 'X-PAYMENT-RESPONSE': header }))).toMatchObject({
      type: 'settled',
      settledAtomic: undefined,
    })
  })

  it('failed: settlement failed, verification refused, or the handler failed', () => {
    const failed = settlement(false, { errorReason: 'insufficient_funds' })
    expect(paymentOutcome(402, headers({ 'PAYMENT-RESPONSE': failed }))).toMatchObject({
      type: 'failed',
      reason: 'settle_failed',
      errorReason: 'insufficient_funds',
    })
    const required = encodePaymentRequiredHeader({
      x402Version: 2,
      error: 'invalid_exact_evm_signature',
      resource: { url: 'http://127.0.0.1/search' },
      accepts: [],
    })
    expect(paymentOutcome(402, headers({ 'PAYMENT-REQUIRED': required }))).toMatchObject({
      type: 'failed',
      reason: 'verify_failed',
      errorReason: 'invalid_exact_evm_signature',
    })
    expect(paymentOutcome(503, headers({}))).toMatchObject({
      type: 'failed',
      reason: 'handler_error',
    })
  })

  it('unknown: served without a settlement, or an unreadable one', () => {
    expect(paymentOutcome(200, headers({}))).toMatchObject({ type: 'unknown' })
    expect(paymentOutcome(200, headers({ 'PAYMENT-RESPONSE': 'not base64 json' }))).toMatchObject({
      type: 'unknown',
    })
  })
})
