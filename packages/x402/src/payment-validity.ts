// Until when a payee can collect a signed payment: the validity signed into it (x402's EVM
// schemes sign now + the route's `maxTimeoutSeconds`). The ledger records that date and the
// call waits for an answer until then, read from what is signed, never from the 402.
import type { PaymentRequirements } from '@x402/core/types'
import { shownValue } from './bounded-text.js'
import { parseAtomic } from './payment-amount.js'
import { PaymentRefusedError } from './payment-errors.js'
import { signedTerms } from './signed-payload.js'

/**
 * The longest validity the kill switch pays for: a day. x402 routes ask for minutes (300 s by
 * default), and a call whose payee never answers stays open until its payment expires.
 */
export const MAX_VALIDITY_SECONDS = 86_400

/**
 * Until when (ms since the epoch) the payee can collect the payment in `header`: its signed
 * `validBefore` (EIP-3009) or `deadline` (Permit2); for a payload that names neither (another
 * chain's), now + the requirements' `maxTimeoutSeconds`, checked before it was held. Throws
 * PaymentRefusedError (`bad_timeout`) when the signed one is unreadable, already past, or
 * more than `MAX_VALIDITY_SECONDS` away: it is not sent.
 */
export function signedValidUntil(
  header: string,
  requirements: Pick<PaymentRequirements, 'payTo' | 'maxTimeoutSeconds'>,
  now: number,
): number {
  const signed = signedTerms(header)
  if (!signed) return now + requirements.maxTimeoutSeconds * 1000
  // An authorisation that is there must say until when: a missing field is not read as none.
  const seconds = parseAtomic(signed.until)
  const until = seconds === undefined ? Number.NaN : Number(seconds) * 1000
  if (until > now && until <= now + MAX_VALIDITY_SECONDS * 1000) return until
  const why = `Not sent: the signed payment is valid until ${shownValue(signed.until)} (seconds since the epoch), which is not a time from now to ${MAX_VALIDITY_SECONDS} s ahead, so until when the payee can collect it is not known (a scheme client signing another validity than the requirements' maxTimeoutSeconds).`
  throw new PaymentRefusedError('bad_timeout', why, requirements.payTo)
}
