// What the payee said about a signed payment, read from its response. Only what it said:
// a signed authorisation can be submitted on chain until it expires whatever the payee
// answers, so none of this releases anything. `paymentCharge` decides what it costs.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import { parseAtomic } from './payment-amount.js'

/**
 * What the payee reported about a sent payment: claims, never proof. `reason`: `settled` (a
 * settlement header says `success: true`), else why nothing is proven: `settle_failed`
 * (`success: false`), `payment_required` (a 402 again after paying), `server_error` (another
 * status >= 400), `no_settlement` (no readable settlement header), `no_response` (the request
 * failed in flight). Payee strings are bounded: they go into the audit log.
 */
export interface PaymentOutcome {
  reason:
    | 'settled'
    | 'settle_failed'
    | 'payment_required'
    | 'server_error'
    | 'no_settlement'
    | 'no_response'
  status?: number | undefined
  /** The settlement's `amount` when an integer, else as sent (`claimedAmount`). */
  claimedAtomic?: bigint | undefined
  claimedAmount?: string | undefined
  transaction?: string | undefined
  network?: string | undefined
  /** The payee's reason for a failed settlement or a second 402. */
  errorReason?: string | undefined
}

/**
 * Classifies the response to a paid request by what it claims: a settlement header
 * (`PAYMENT-RESPONSE`, v1 `X-PAYMENT-RESPONSE`) with `success: true` claims settled.
 *
 * @example
 * paymentOutcome(response.status, (name) => response.headers.get(name))
 * // { reason: 'settled', claimedAtomic: 10000n, transaction: '0x…', network: 'eip155:84532', status: 200 }
 */
export function paymentOutcome(
  status: number,
  getHeader: (name: string) => string | null,
): PaymentOutcome {
  const header = getHeader('PAYMENT-RESPONSE') ?? getHeader('X-PAYMENT-RESPONSE')
  // An unreadable header proves nothing either way.
  const settlement = decode(header, decodePaymentResponseHeader)
  if (settlement?.success === true) {
    const claimedAtomic = parseAtomic(settlement.amount)
    const unreadable = settlement.amount !== undefined && claimedAtomic === undefined
    return {
      reason: 'settled',
      status,
      claimedAtomic,
      claimedAmount: unreadable ? String(settlement.amount).slice(0, 80) : undefined,
      transaction: text(settlement.transaction),
      network: text(settlement.network),
    }
  }
  if (settlement?.success === false) {
    return { reason: 'settle_failed', status, errorReason: text(settlement.errorReason) }
  }
  if (status === 402) {
    const required = decode(getHeader('PAYMENT-REQUIRED'), decodePaymentRequiredHeader)
    return { reason: 'payment_required', status, errorReason: text(required?.error) }
  }
  return { reason: status >= 400 ? 'server_error' : 'no_settlement', status }
}

function decode<T>(header: string | null, decoder: (header: string) => T): T | undefined {
  try {
    return header ? decoder(header) : undefined
  } catch {
    return undefined
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 200) : undefined
}
