import { encodePaymentRequiredHeader, encodePaymentResponseHeader } from '@x402/core/http'
import { describe, expect, it } from 'vitest'
import { paymentOutcome } from './payment-charge.js'

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
  it('settled: reports the claimed amount, transaction and network', () => {
    const header = settlement(true, { amount: '20000' })
    expect(paymentOutcome(200, headers({ 'PAYMENT-RESPONSE': header }))).toEqual({
      reason: 'settled',
      claimedAtomic: 20000n,
      claimedAmount: undefined,
      transaction: '0xabc',
      network: 'eip155:84532',
      status: 200,
    })
  })

  it('reads the v1 settlement header', () => {
    const header = settlement(true)
    expect(paymentOutcome(200, headers({ 'X-PAYMENT-RESPONSE': header }))).toMatchObject({
      reason: 'settled',
      claimedAtomic: undefined,
    })
  })

  it('keeps an amount that is not an integer, for the audit log', () => {
    const header = settlement(true, { amount: '-5' })
    expect(paymentOutcome(200, headers({ 'PAYMENT-RESPONSE': header }))).toMatchObject({
      claimedAtomic: undefined,
      claimedAmount: '-5',
    })
  })

  it('unproven: a failed settlement, a 402 again, or another error status', () => {
    const failed = settlement(false, { errorReason: 'insufficient_funds' })
    expect(paymentOutcome(402, headers({ 'PAYMENT-RESPONSE': failed }))).toMatchObject({
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
      reason: 'payment_required',
      errorReason: 'invalid_exact_evm_signature',
    })
    expect(paymentOutcome(503, headers({}))).toMatchObject({
      reason: 'server_error',
    })
  })

  it("bounds the payee's strings and escapes what could forge an audit line", () => {
    const header = settlement(true, { transaction: `0x1\n[killswitch] ok${'x'.repeat(5_000)}` })
    const { transaction } = paymentOutcome(200, headers({ 'PAYMENT-RESPONSE': header }))
    expect(transaction?.startsWith('0x1\\u000a[killswitch] ok')).toBe(true)
    expect(transaction).toHaveLength(200)
  })

  it('unproven: served without a settlement, or an unreadable one', () => {
    expect(paymentOutcome(200, headers({}))).toMatchObject({
      reason: 'no_settlement',
    })
    expect(paymentOutcome(200, headers({ 'PAYMENT-RESPONSE': 'not base64 json' }))).toMatchObject({
      reason: 'no_settlement',
    })
  })
})
