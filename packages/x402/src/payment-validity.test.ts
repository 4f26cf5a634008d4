import { encodePaymentSignatureHeader } from '@x402/core/http'
import { describe, expect, it } from 'vitest'
import { PaymentRefusedError } from './payment-errors.js'
import { MAX_VALIDITY_SECONDS, signedValidUntil } from './payment-validity.js'

const now = 1_800_000_000_000
const header = (payload: Record<string, unknown>) =>
  encodePaymentSignatureHeader({ x402Version: 2, payload } as never)
const requirements = { payTo: '0xpayee', maxTimeoutSeconds: 300 }

describe('signedValidUntil', () => {
  it("reads EIP-3009's validBefore and Permit2's deadline, whatever the 402 claimed", () => {
    const eip3009 = header({ authorization: { validBefore: String(now / 1000 + 5) } })
    expect(signedValidUntil(eip3009, requirements, now)).toBe(now + 5_000)
    const permit2 = header({ permit2Authorization: { deadline: String(now / 1000 + 60) } })
    expect(signedValidUntil(permit2, requirements, now)).toBe(now + 60_000)
  })

  it("falls back on the requirements' validity for a payload that names none", () => {
    expect(signedValidUntil(header({ transaction: 'base64...' }), requirements, now)).toBe(
      now + 300_000,
    )
  })

  it('refuses a signed validity that is unreadable, past, or more than a day ahead', () => {
    const beyond = String(now / 1000 + MAX_VALIDITY_SECONDS + 1)
    for (const validBefore of ['soon', 300, String(now / 1000), beyond, undefined]) {
      const signed = header({ authorization: { validBefore } })
      expect(() => signedValidUntil(signed, requirements, now)).toThrow(PaymentRefusedError)
    }
    const day = header({
      authorization: { validBefore: String(now / 1000 + MAX_VALIDITY_SECONDS) },
    })
    expect(signedValidUntil(day, requirements, now)).toBe(now + MAX_VALIDITY_SECONDS * 1000)
  })
})
