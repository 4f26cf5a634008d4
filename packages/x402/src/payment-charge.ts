// What a sent payment costs the agent, from what the payee answered. A signed authorisation
// that left the process is money, collectable on chain until it expires whatever the payee
// answers: charged at its full authorised amount unless a proven settlement shows less, never
// more. The payee's headers are claims: audited, never believed, so nothing here releases.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentPayload } from '@x402/core/types'
import { parseAtomic } from './payment-amount.js'

type Unproven = 'settle_failed' | 'payment_required' | 'server_error' | 'no_settlement'

/** What the payee said: `settled` (a settlement header says so), else why nothing is proven. */
export interface PaymentOutcome {
  reason: 'settled' | 'no_response' | Unproven
  status?: number | undefined
  /** The settlement's `amount` when an integer, else as sent (`claimedAmount`). */
  claimedAtomic?: bigint | undefined
  claimedAmount?: string | undefined
  transaction?: string | undefined
  network?: string | undefined
  errorReason?: string | undefined
}

/** Reads a paid request's answer: its settlement header (v1: `X-PAYMENT-RESPONSE`), its status. */
export function paymentOutcome(status: number, header: (name: string) => string | null) {
  const response = header('PAYMENT-RESPONSE') ?? header('X-PAYMENT-RESPONSE')
  const settlement = response ? attempt(() => decodePaymentResponseHeader(response)) : undefined
  const outcome = (reason: PaymentOutcome['reason'], more?: object): PaymentOutcome => ({
    reason,
    status,
    ...more,
  })
  if (settlement?.success === true) {
    const claimedAtomic = parseAtomic(settlement.amount)
    const unreadable = settlement.amount !== undefined && claimedAtomic === undefined
    return outcome('settled', {
      claimedAtomic,
      claimedAmount: unreadable ? text(String(settlement.amount)) : undefined,
      transaction: text(settlement.transaction),
      network: text(settlement.network),
    })
  }
  if (settlement) return outcome('settle_failed', { errorReason: text(settlement.errorReason) })
  if (status !== 402) return outcome(status >= 400 ? 'server_error' : 'no_settlement')
  const required = attempt(() => decodePaymentRequiredHeader(header('PAYMENT-REQUIRED') ?? ''))
  return outcome('payment_required', { errorReason: text(required?.error) })
}

/** What `read` returns, or undefined when it throws: an unreadable header proves nothing. */
export function attempt<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

/** A payee's string, bounded for the audit log. */
const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 200) : undefined)

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
export type SentPayment = Pick<SettlementClaim, 'scheme' | 'network'> & { atomic: bigint }

/**
 * A sent payment's charge in atomic units, and its audit details: `exact` at its amount
 * whatever the payee claims; another scheme, once settled, at what `verified` proves (never
 * above the authorised amount); anything else at the authorised amount.
 */
export function paymentCharge(
  payment: SentPayment,
  outcome: PaymentOutcome,
  verified: { atomic?: bigint | undefined; error?: string } = {},
): { atomic: bigint; details: Record<string, unknown> } {
  const settled = outcome.reason === 'settled'
  const proven = settled && payment.scheme !== 'exact' ? verified.atomic : undefined
  const atomic = proven !== undefined && proven < payment.atomic ? proven : payment.atomic
  const { status = null, reason, errorReason, transaction, claimedAtomic, claimedAmount } = outcome
  const details = {
    status,
    // Not `outcome`: the ledger writes its own under that name.
    paymentOutcome: settled ? 'settled' : 'outcome_unknown',
    ...(settled ? { suspicious: suspicion(payment, outcome, proven) } : { reason }),
    ...{ errorReason, transaction, claimedAtomic: claimedAtomic?.toString(), claimedAmount },
    chargedAtomic: String(atomic),
    basis: proven === undefined ? 'authorised' : 'verified',
    verifyError: verified.error,
  }
  return { atomic, details }
}

/** The first way a settlement claim does not add up, for the audit log. */
function suspicion(payment: SentPayment, outcome: PaymentOutcome, verified: bigint | undefined) {
  const { atomic, network } = payment
  const claim = outcome.claimedAtomic
  if ((outcome.network ?? network) !== network) return 'settlement_network_mismatch'
  if (outcome.claimedAmount !== undefined) return 'settlement_amount_unreadable'
  if ((claim ?? 0n) > atomic) return 'claimed_more_than_authorised'
  if (payment.scheme === 'exact' && (claim ?? atomic) < atomic)
    return 'claimed_less_than_exact_amount'
  if ((verified ?? 0n) > atomic) return 'verified_more_than_authorised'
  // Both known and different (either unknown compares equal).
  if ((claim ?? verified) !== (verified ?? claim)) return 'claim_differs_from_verified'
  return undefined
}

/** Asks `verifySettlement`; its failure, or an answer that is not an amount, proves nothing. */
export async function verifiedAmount(verifier: SettlementVerifier, claim: SettlementClaim) {
  try {
    const atomic = await verifier(claim)
    if (atomic === undefined || (typeof atomic === 'bigint' && atomic >= 0n)) return { atomic }
    return { error: 'verifySettlement returned no bigint amount >= 0' }
  } catch (error) {
    return { error: (error instanceof Error ? error.message : String(error)).slice(0, 200) }
  }
}
