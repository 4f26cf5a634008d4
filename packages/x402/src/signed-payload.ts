// Reads the payload of a signed payment header: what is signed is what the payee holds, so
// the amount and the validity the kill switch records come from it, not from the 402.
import { decodePaymentSignatureHeader } from '@x402/core/http'

/** A field of the signed payload by its path (`authorization`, `validBefore`), else undefined. */
export function payloadField(header: string, ...path: string[]): unknown {
  let value: unknown
  try {
    value = decodePaymentSignatureHeader(header).payload
  } catch {
    return undefined
  }
  for (const key of path) {
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)[key]
        : undefined
  }
  return value
}
