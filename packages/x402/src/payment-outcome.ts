// What the payee said about a signed payment, read from its response. Only what it said:
// a signed authorisation can be submitted on chain until it expires whatever the payee
// answers, so none of this releases anything. `paymentCharge` decides what it costs.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import { parseAtomic } from './payment-amount.js'

/** What the payee reported about a payment that was sent. */
export type PaymentOutcome =
  | {
      type: 'settled'
      /** The settlement header's `amount`, when present and an integer. A claim, not proof. */
      claimedAtomic: bigint | undefined
      /** The header's `amount` as sent, when it was not an integer (audited). */
      claimedRaw: string | undefined
      transaction: string | undefined
      network: string | undefined
      status: number
    }
  | {
      type: 'unproven'
      /**
       * No settlement proof: `settle_failed` (a `success: false` header), `payment_required`
       * (a 402 again after paying), `server_error` (another status >= 400), `no_settlement`
       * (served without a settlement header), `no_response` (the request failed in flight).
       */
      reason:
        | 'settle_failed'
        | 'payment_required'
        | 'server_error'
        | 'no_settlement'
        | 'no_response'
      status: number | undefined
      errorReason: string | undefined
    }

/**
 * Classifies the response to a paid request by what it claims: a settlement header
 * (`PAYMENT-RESPONSE`, v1 `X-PAYMENT-RESPONSE`) with `success: true` claims settled;
 * anything else proves nothing about whether the payee will collect.
 *
 * @example
 * paymentOutcome(response.status, (name) => response.headers.get(name))
 * // { type: 'settled', claimedAtomic: 10000n, transaction: '0x…', network: 'eip155:84532', status: 200 }
 */
export function paymentOutcome(
  status: number,
  getHeader: (name: string) => string | null,
): PaymentOutcome {
  const header = getHeader('PAYMENT-RESPONSE') ?? getHeader('X-PAYMENT-RESPONSE')
  const settlement = header ? decodeSettlement(header) : undefined
  if (settlement?.success === true) {
    const claimedAtomic = parseAtomic(settlement.amount)
    return {
      type: 'settled',
      claimedAtomic,
      claimedRaw:
        settlement.amount !== undefined && claimedAtomic === undefined
          ? String(settlement.amount).slice(0, 80)
          : undefined,
      transaction: text(settlement.transaction),
      network: text(settlement.network),
      status,
    }
  }
  if (settlement?.success === false) {
    return {
      type: 'unproven',
      reason: 'settle_failed',
      status,
      errorReason: text(settlement.errorReason),
    }
  }
  if (status === 402) {
    return {
      type: 'unproven',
      reason: 'payment_required',
      status,
      errorReason: requiredError(getHeader),
    }
  }
  if (status >= 400) {
    return { type: 'unproven', reason: 'server_error', status, errorReason: undefined }
  }
  return { type: 'unproven', reason: 'no_settlement', status, errorReason: undefined }
}

interface Settlement {
  success?: unknown
  amount?: unknown
  transaction?: unknown
  network?: unknown
  errorReason?: unknown
}

function decodeSettlement(header: string): Settlement | undefined {
  try {
    return decodePaymentResponseHeader(header) as Settlement
  } catch {
    // An unreadable settlement header proves nothing either way.
    return undefined
  }
}

/** The server's reason from a v2 `PAYMENT-REQUIRED` header, for the audit log. */
function requiredError(getHeader: (name: string) => string | null): string | undefined {
  const header = getHeader('PAYMENT-REQUIRED')
  if (!header) return undefined
  try {
    return text(decodePaymentRequiredHeader(header).error)
  } catch {
    return undefined
  }
}

/** A payee-supplied string, bounded: it goes into the audit log. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 200) : undefined
}
