// What a sent payment costs: the payee can collect it until it expires whatever it answers,
// so in full unless a proven settlement shows less. Its headers are audited, never believed.
import * as http from '@x402/core/http'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { boundedText } from './bounded-text.js'
import { parseAtomic } from './payment-amount.js'

type Unproven = 'settle_failed' | 'payment_required' | 'server_error' | 'no_settlement'

/** What the payee said: `settled` (a settlement header says so), else why nothing is proven. */
export interface PaymentOutcome {
  reason: 'settled' | 'no_response' | Unproven
  status?: number | undefined
  claimedAtomic?: bigint | undefined
  claimedAmount?: string | undefined
  transaction?: string | undefined
  network?: string | undefined
  errorReason?: string | undefined
}

/** Reads a paid request's answer: its settlement header (v1: `X-PAYMENT-RESPONSE`), its status. */
export function paymentOutcome(status: number, header: (name: string) => string | null) {
  const response = header('PAYMENT-RESPONSE') ?? header('X-PAYMENT-RESPONSE')
  const settlement = attempt(() => http.decodePaymentResponseHeader(response ?? ''))
  let outcome: PaymentOutcome = { reason: status >= 400 ? 'server_error' : 'no_settlement', status }
  if (settlement?.success === true) {
    const { amount, transaction, network } = settlement
    const claimedAtomic = parseAtomic(amount)
    const claimedAmount =
      claimedAtomic === undefined && amount !== undefined ? `${amount}` : undefined
    outcome = { reason: 'settled', status, claimedAtomic, claimedAmount, transaction, network }
  } else if (settlement?.success === false) {
    outcome = { reason: 'settle_failed', status, errorReason: settlement.errorReason }
  } else if (status === 402) {
    const required = header('PAYMENT-REQUIRED') ?? ''
    const errorReason = attempt(() => http.decodePaymentRequiredHeader(required))?.error
    outcome = { reason: 'payment_required', status, errorReason }
  }
  // The payee's strings, bounded and printable for the audit log.
  const strings = ['transaction', 'network', 'errorReason', 'claimedAmount'] as const
  for (const key of strings) outcome[key] = boundedText(outcome[key])
  return outcome
}

/** What `read` returns, or undefined when it throws: an unreadable header proves nothing. */
function attempt<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

type Requirement = Pick<PaymentRequirements, 'scheme' | 'network' | 'asset' | 'payTo'>

/** What `verifySettlement` is asked about a settled `upto` payment (atomic units). */
export interface SettlementClaim extends Requirement {
  /** What the payee's settlement header named and claimed (undefined: it did not say). */
  transaction: string | undefined
  claimedAtomic: bigint | undefined
  /** The most the signed authorisation allows. */
  authorisedAtomic: bigint
  /** The signed payload that was sent (its nonce or permit identifies the authorisation). */
  paymentPayload: PaymentPayload
}

/**
 * What the transaction consuming this authorisation moved (atomic units), read from the
 * chain, never the payee's claim (check that its nonce is spent, so it cannot be submitted
 * again); undefined when that cannot be proven: the authorised amount is then charged.
 *
 * @example
 * const verifySettlement: SettlementVerifier = async (claim) => readTransferFromChain(claim)
 */
export type SettlementVerifier = (
  claim: SettlementClaim,
) => PromiseLike<bigint | undefined> | bigint | undefined

/** What `verify` proves a settled payment moved; a failure, or no amount, proves nothing. */
export async function verifyClaim(
  verify: SettlementVerifier | undefined,
  { reason, transaction, claimedAtomic }: PaymentOutcome,
  { scheme, network, asset, payTo, atomic: authorisedAtomic, header }: SignedPayment,
) {
  // Only a claimed settlement of a scheme that may charge less is worth proving.
  if (!verify || reason !== 'settled' || scheme === 'exact') return {}
  const claim = { scheme, network, asset, payTo, authorisedAtomic, transaction, claimedAtomic }
  try {
    const paymentPayload = http.decodePaymentSignatureHeader(header)
    const atomic = await verify({ ...claim, paymentPayload })
    if (atomic === undefined || (typeof atomic === 'bigint' && atomic >= 0n)) return { atomic }
    return { error: 'verifySettlement returned no bigint amount >= 0' }
  } catch (error) {
    return { error: boundedText(error instanceof Error ? error.message : String(error)) }
  }
}

/** A payment that left: its requirements, what it authorised (`atomic`), its signed header. */
export type SignedPayment = SentPayment & Requirement & { header: string }
export type SentPayment = Pick<SettlementClaim, 'scheme' | 'network'> & { atomic: bigint }

/**
 * A sent payment's charge (atomic units) and audit details: `exact` at its amount, another
 * scheme once settled at what `verified` proves (never more), anything else in full.
 */
export function paymentCharge(
  payment: SentPayment,
  outcome: PaymentOutcome,
  verified: { atomic?: bigint | undefined; error?: string | undefined } = {},
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
  const { atomic, network, scheme } = payment
  const claim = outcome.claimedAtomic
  if ((outcome.network ?? network) !== network) return 'settlement_network_mismatch'
  if (outcome.claimedAmount !== undefined) return 'settlement_amount_unreadable'
  if ((claim ?? 0n) > atomic) return 'claimed_more_than_authorised'
  if (scheme === 'exact' && (claim ?? atomic) < atomic) return 'claimed_less_than_exact_amount'
  if ((verified ?? 0n) > atomic) return 'verified_more_than_authorised'
  // Both known and different (either unknown compares equal).
  if ((claim ?? verified) !== (verified ?? claim)) return 'claim_differs_from_verified'
  return undefined
}
