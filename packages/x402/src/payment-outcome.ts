// What became of a signed payment, read from the paid request's response. The outcome
// decides the ledger: settled is spent, failed is released, unknown stays held.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import { parseAtomic } from './payment-amount.js'

/** The fate of a payment that was sent. */
export type PaymentOutcome =
  | {
      type: 'settled'
      /** What was really charged (`upto`: at most the maximum); undefined: the full amount. */
      settledAtomic: bigint | undefined
      transaction: string | undefined
      status: number
    }
  | {
      type: 'failed'
      /** Not paid: verification refused it, settlement failed, or the handler failed. */
      reason: 'verify_failed' | 'settle_failed' | 'handler_error'
      status: number
      errorReason: string | undefined
    }
  | {
      type: 'unknown'
      /** The request failed in flight, or the resource was served without a settlement. */
      reason: 'no_response' | 'no_settlement_proof'
      status: number | undefined
    }

/**
 * Classifies the response to a paid request. A settlement header (`PAYMENT-RESPONSE`, v1
 * `X-PAYMENT-RESPONSE`) says settled or failed; without one, a 402 means verification
 * refused the payment and another error status means the server did not settle it (x402
 * servers settle only successful responses); a success without a settlement header is
 * unknown (the server may settle later), so it is not released.
 *
 * @example
 * paymentOutcome(response.status, (name) => response.headers.get(name))
 * // { type: 'settled', settledAtomic: 10000n, transaction: '0x…', status: 200 }
 */
export function paymentOutcome(
  status: number,
  getHeader: (name: string) => string | null,
): PaymentOutcome {
  const header = getHeader('PAYMENT-RESPONSE') ?? getHeader('X-PAYMENT-RESPONSE')
  const settlement = header ? decodeSettlement(header) : undefined
  if (settlement?.success === true) {
    return {
      type: 'settled',
      settledAtomic: parseAtomic(settlement.amount),
      transaction: settlement.transaction,
      status,
    }
  }
  if (settlement?.success === false) {
    return { type: 'failed', reason: 'settle_failed', status, errorReason: settlement.errorReason }
  }
  if (status === 402) {
    return {
      type: 'failed',
      reason: 'verify_failed',
      status,
      errorReason: requiredError(getHeader),
    }
  }
  if (status >= 400)
    return { type: 'failed', reason: 'handler_error', status, errorReason: undefined }
  return { type: 'unknown', reason: 'no_settlement_proof', status }
}

function decodeSettlement(
  header: string,
): { success?: unknown; amount?: unknown; transaction?: string; errorReason?: string } | undefined {
  try {
    return decodePaymentResponseHeader(header)
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
    return decodePaymentRequiredHeader(header).error
  } catch {
    return undefined
  }
}
