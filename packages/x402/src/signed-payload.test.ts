import { MAX_VALIDITY_SECONDS } from '@killswitch/core'
import { encodePaymentSignatureHeader } from '@x402/core/http'
import { describe, expect, it } from 'vitest'
import { PaymentRefusedError } from './index.js'
import { signedAtomic, signedValidUntil } from './signed-payload.js'

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

describe('signedAtomic', () => {
  const header = (payload: Record<string, unknown>) =>
    encodePaymentSignatureHeader({
      x402Version: 2,
      accepted: requirements,
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
