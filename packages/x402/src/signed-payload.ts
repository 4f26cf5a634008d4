// Reads the payload of a signed payment header: what is signed is what the payee holds, so
// the amount and the validity the kill switch records come from it, not from the 402. Until
// when a payee can collect it is the validity signed into it (x402's EVM schemes sign now +
// the route's `maxTimeoutSeconds`): the ledger records that date and the call waits for an
// answer until then.
import {
  MAX_VALIDITY_SECONDS,
  PaymentRefusedError,
  parseAtomic,
  quotedValue,
  signedValidity,
} from '@killswitch/core'
import { decodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'

/**
 * What the EVM authorisation a payload signs says it allows: the `amount` (EIP-3009
 * `authorization.value`, Permit2 `permit2Authorization.permitted.amount`) and until when, in
 * seconds (`validBefore`, `deadline`), as written; undefined for a payload with neither
 * authorisation (another chain's) or a header that is none. One that is there must say what
 * it authorises: a missing field is returned as undefined, never read as no limit.
 */
export function signedTerms(header: string): { amount: unknown; until: unknown } | undefined {
  const payload: unknown = attempt(() => decodePaymentSignatureHeader(header).payload)
  const { authorization, permit2Authorization } = (payload ?? {}) as Record<string, unknown>
  if (isRecord(authorization)) {
    return { amount: authorization.value, until: authorization.validBefore }
  }
  if (isRecord(permit2Authorization)) {
    const permitted = permit2Authorization.permitted as { amount?: unknown } | undefined
    return { amount: permitted?.amount, until: permit2Authorization.deadline }
  }
  return undefined
}

/**
 * The most a signed payment header authorises where its payload says so in a field x402's
 * EVM schemes sign (EIP-3009 `authorization.value`, Permit2 `permitted.amount`); undefined
 * for a payload without such an authorisation (another chain's); null for one whose amount
 * cannot be read (not sent: what the payee could collect is unknown).
 */
export function signedAtomic(header: string): bigint | null | undefined {
  const signed = signedTerms(header)
  return signed === undefined ? undefined : (parseAtomic(signed.amount) ?? null)
}

/**
 * Until when (ms since the epoch) the payee can collect the payment in `header`: its signed
 * `validBefore` (EIP-3009) or `deadline` (Permit2); for a payload that names neither (another
 * chain's), now + the requirements' `maxTimeoutSeconds`, checked before it was held. Throws
 * PaymentRefusedError (`bad_timeout`) when the signed one is unreadable, already past, or
 * more than `MAX_VALIDITY_SECONDS` away (the core's `signedValidity`): it is not sent.
 */
export function signedValidUntil(
  header: string,
  requirements: Pick<PaymentRequirements, 'payTo' | 'maxTimeoutSeconds'>,
  now: number,
): number {
  const signed = signedTerms(header)
  if (!signed) return now + requirements.maxTimeoutSeconds * 1000
  // An authorisation that is there must say until when: a missing field is not read as none.
  const until = signedValidity(signed.until, now)
  if (until !== undefined) return until
  const why = `Not sent: the signed payment is valid until ${quotedValue(signed.until)} (seconds since the epoch), which is not a time from now to ${MAX_VALIDITY_SECONDS} s ahead, so until when the payee can collect it is not known (a scheme client signing another validity than the requirements' maxTimeoutSeconds).`
  throw new PaymentRefusedError('bad_timeout', why, requirements.payTo)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/** What `read` returns, or undefined when it throws: an unreadable header proves nothing. */
export function attempt<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}
