// Reads the payload of a signed payment header: what is signed is what the payee holds, so
// the amount and the validity the kill switch records come from it, not from the 402.
import { decodePaymentSignatureHeader } from '@x402/core/http'

/**
 * What the EVM authorisation a payload signs says it allows: the `amount` (EIP-3009
 * `authorization.value`, Permit2 `permit2Authorization.permitted.amount`) and until when, in
 * seconds (`validBefore`, `deadline`), as written; undefined for a payload with neither
 * authorisation (another chain's) or a header that is none. One that is there must say what
 * it authorises: a missing field is returned as undefined, never read as no limit.
 */
export function signedTerms(header: string): { amount: unknown; until: unknown } | undefined {
  let payload: unknown
  try {
    payload = decodePaymentSignatureHeader(header).payload
  } catch {
    return undefined
  }
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
