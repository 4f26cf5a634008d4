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

/**
 * The EVM authorisation a payload signs (EIP-3009 `authorization` or Permit2
 * `permit2Authorization`) with its kind, or undefined for a payload with neither (another
 * chain's). One that is there must say what it authorises: its fields are then required.
 */
export function signedAuthorization(
  header: string,
): { kind: 'eip3009' | 'permit2'; fields: Record<string, unknown> } | undefined {
  const eip3009 = payloadField(header, 'authorization')
  if (isRecord(eip3009)) return { kind: 'eip3009', fields: eip3009 }
  const permit2 = payloadField(header, 'permit2Authorization')
  if (isRecord(permit2)) return { kind: 'permit2', fields: permit2 }
  return undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
