// What a sent payment costs the agent, from what the payee answered. One rule: a signed
// authorisation that left the process is money, collectable on chain until it expires
// whatever the payee answers. It is charged at its full authorised amount unless a proven
// settlement shows less, and never at more. The payee's headers are claims: audited, never
// believed, so nothing here releases anything.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentPayload } from '@x402/core/types'
import { parseAtomic } from './payment-amount.js'

/**
 * What the payee said about a sent payment. `reason`: `settled` (a settlement header says
 * `success: true`), else why nothing is proven: `settle_failed` (`success: false`),
 * `payment_required` (a 402 again), `server_error` (another status >= 400), `no_settlement`
 * (no readable settlement header), `no_response` (the request failed in flight).
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
  /** The settlement's `amount` when an integer, else as sent (`claimedAmount`, audited). */
  claimedAtomic?: bigint | undefined
  claimedAmount?: string | undefined
  transaction?: string | undefined
  network?: string | undefined
  errorReason?: string | undefined
}

/**
 * Reads the answer to a paid request: its settlement header (`PAYMENT-RESPONSE`, v1
 * `X-PAYMENT-RESPONSE`), else its status. Payee strings are bounded for the audit log.
 *
 * @example
 * paymentOutcome(response.status, (name) => response.headers.get(name)) // { reason: 'settled', ... }
 */
export function paymentOutcome(
  status: number,
  getHeader: (name: string) => string | null,
): PaymentOutcome {
  const header = getHeader('PAYMENT-RESPONSE') ?? getHeader('X-PAYMENT-RESPONSE')
  const settlement = header ? attempt(() => decodePaymentResponseHeader(header)) : undefined
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
    const required = attempt(() => decodePaymentRequiredHeader(getHeader('PAYMENT-REQUIRED') ?? ''))
    return { reason: 'payment_required', status, errorReason: text(required?.error) }
  }
  return { reason: status >= 400 ? 'server_error' : 'no_settlement', status }
}

/** What `read` returns, or undefined when it throws (an unreadable header proves nothing). */
export function attempt<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 200) : undefined
}

/** A settlement claim for `verifySettlement` (`upto`), amounts in the asset's atomic units. */
export interface SettlementClaim {
  scheme: string
  network: string
  asset: string
  payTo: string
  /** What the payee's settlement header named and claimed (undefined: it did not say). */
  transaction: string | undefined
  claimedAtomic: bigint | undefined
  /** The most the signed authorisation allows. */
  authorisedAtomic: bigint
  /** The signed payload that was sent (its nonce or permit identifies the authorisation). */
  paymentPayload: PaymentPayload
}

/**
 * The atomic amount that the transaction consuming this authorisation moved, read from the
 * chain (check that its nonce is spent, so it cannot be submitted again), or undefined when
 * that cannot be proven: the authorised amount is then charged. Never the payee's claim.
 *
 * @example
 * const verifySettlement: SettlementVerifier = async (claim) => readTransferFromChain(claim)
 */
export type SettlementVerifier = (
  claim: SettlementClaim,
) => Promise<bigint | undefined> | bigint | undefined

/** A sent payment, as far as its charge is concerned (`atomic`: what was authorised). */
export interface SentPayment {
  scheme: string
  network: string
  atomic: bigint
}

/**
 * A sent payment's charge in atomic units, and its audit details. `exact` is charged its
 * amount whatever the payee claims; another settled scheme the amount `verified` proves
 * (never above the authorised one), else the authorised amount. A claim that does not add
 * up is named in `suspicious`.
 *
 * @example
 * paymentCharge({ scheme: 'exact', network, atomic: 10000n }, { reason: 'settled', claimedAtomic: 0n })
 * // { atomic: 10000n, details: { paymentOutcome: 'settled', basis: 'authorised', suspicious: 'claimed_less_than_exact_amount', ... } }
 */
export function paymentCharge(
  payment: SentPayment,
  outcome: PaymentOutcome,
  verified: { atomic?: bigint | undefined; error?: string } = {},
): { atomic: bigint; details: Record<string, unknown> } {
  const settled = outcome.reason === 'settled'
  const proven = settled && payment.scheme !== 'exact' ? verified.atomic : undefined
  const atomic = proven !== undefined && proven < payment.atomic ? proven : payment.atomic
  const details = {
    status: outcome.status ?? null,
    // Not `outcome`: the ledger writes its own under that name.
    paymentOutcome: settled ? 'settled' : 'outcome_unknown',
    reason: settled ? undefined : outcome.reason,
    errorReason: outcome.errorReason,
    transaction: outcome.transaction,
    claimedAtomic: outcome.claimedAtomic?.toString(),
    claimedAmount: outcome.claimedAmount,
    chargedAtomic: String(atomic),
    basis: proven === undefined ? 'authorised' : 'verified',
    suspicious: settled ? suspicion(payment, outcome, proven) : undefined,
    verifyError: verified.error,
  }
  const defined = Object.entries(details).filter(([, value]) => value !== undefined)
  return { atomic, details: Object.fromEntries(defined) }
}

function suspicion(
  { scheme, network, atomic: authorised }: SentPayment,
  { network: claimedNetwork, claimedAmount, claimedAtomic: claimed }: PaymentOutcome,
  verified: bigint | undefined,
): string | undefined {
  if (claimedNetwork !== undefined && claimedNetwork !== network) {
    return 'settlement_network_mismatch'
  }
  if (claimedAmount !== undefined) return 'settlement_amount_unreadable'
  if (claimed !== undefined && claimed > authorised) return 'claimed_more_than_authorised'
  if (scheme === 'exact' && claimed !== undefined && claimed < authorised) {
    return 'claimed_less_than_exact_amount'
  }
  if (verified === undefined) return undefined
  if (verified > authorised) return 'verified_more_than_authorised'
  return claimed !== undefined && claimed !== verified ? 'claim_differs_from_verified' : undefined
}

/** Asks `verifySettlement`; its failure, or an answer that is not an amount, proves nothing. */
export async function verifiedAmount(
  verifier: SettlementVerifier,
  claim: SettlementClaim,
): Promise<{ atomic?: bigint | undefined; error?: string }> {
  try {
    const atomic = await verifier(claim)
    if (atomic === undefined || (typeof atomic === 'bigint' && atomic >= 0n)) return { atomic }
    return { error: 'verifySettlement returned no bigint amount >= 0' }
  } catch (error) {
    return { error: (error instanceof Error ? error.message : String(error)).slice(0, 200) }
  }
}
