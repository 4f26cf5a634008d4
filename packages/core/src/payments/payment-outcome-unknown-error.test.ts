// A payment that left without an answer is reported as charged, with until when it can be collected.
import { describe, expect, it } from 'vitest'
import { PaymentOutcomeUnknownError } from './payment-outcome-unknown-error.js'

describe('PaymentOutcomeUnknownError', () => {
  it('says what was charged, to whom, and until when the payee can collect it', () => {
    const cause = new TypeError('fetch failed')
    const validUntil = Date.UTC(2030, 0, 1)
    const error = new PaymentOutcomeUnknownError(
      '0xpayee',
      0.01,
      'https://a.example/x',
      validUntil,
      {
        cause,
      },
    )
    expect(error).toMatchObject({
      name: 'PaymentOutcomeUnknownError',
      code: 'payment_outcome_unknown',
      payee: '0xpayee',
      amountUsd: 0.01,
      resource: 'https://a.example/x',
      validUntil,
      cause,
    })
    expect(error.message).toContain('$0.01 to 0xpayee for https://a.example/x')
    expect(error.message).toContain('valid until 2030-01-01T00:00:00.000Z')
  })
})
