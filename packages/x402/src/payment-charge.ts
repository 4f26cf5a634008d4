// What a sent payment costs the agent. One rule: a signed authorisation that left the
// process is money, collectable on chain until it expires whatever the payee answers. It
// is charged at its full authorised amount unless a proven settlement shows less, and
// never at more. The payee's own headers are claims: they are audited, never believed
// below the authorised amount.
import type { PaymentPayload } from '@x402/core/types'
import type { PaymentAmount } from './payment-amount.js'
import type { PaymentOutcome } from './payment-outcome.js'

/**
 * What a payee claims it settled, handed to a `verifySettlement` check for a scheme that
 * may charge less than it authorised (`upto`).
 *
 * @example
 * const claim: SettlementClaim = { scheme: 'upto', network: 'eip155:8453', transaction: '0x…', claimedAtomic: 20000n, authorisedAtomic: 50000n, ... }
 */
export interface SettlementClaim {
  scheme: string
  network: string
  asset: string
  payTo: string
  /** The transaction the payee named in its settlement header. */
  transaction: string | undefined
  /** The amount it claims it charged, in atomic units (undefined: it did not say). */
  claimedAtomic: bigint | undefined
  /** The most the signed authorisation allows, in atomic units. */
  authorisedAtomic: bigint
  /** The signed payload that was sent (its nonce or permit identifies the authorisation). */
  paymentPayload: PaymentPayload
}

/**
 * Proves what a settlement really moved: returns the atomic amount that the transaction
 * consuming this authorisation transferred, read from the chain, or undefined when that
 * cannot be proven (then the full authorised amount is charged). Must not trust the
 * payee's claim: check that the authorisation (its nonce) is spent, so that it cannot be
 * submitted again for more.
 *
 * @example
 * const verifySettlement: SettlementVerifier = async (claim) => readTransferFromChain(claim)
 */
export type SettlementVerifier = (
  claim: SettlementClaim,
) => Promise<bigint | undefined> | bigint | undefined

/** A sent payment, as far as its charge is concerned. */
export interface SentPayment {
  scheme: string
  network: string
  /** What was authorised (for `upto`: the maximum). */
  amount: PaymentAmount
}

/** What the ledger charges for a sent payment, and why. */
export interface PaymentCharge {
  /** Atomic units charged: what the payee can collect. Never more than authorised. */
  atomic: bigint
  /** `settled`: the payee claimed a settlement; `outcome_unknown`: it proved nothing. */
  outcome: 'settled' | 'outcome_unknown'
  /** `verified`: a `verifySettlement` check proved a smaller amount; else `authorised`. */
  basis: 'authorised' | 'verified'
  /** Why the payee's answer does not add up, when it does not (audited as suspicious). */
  suspicious: string | undefined
}

/**
 * Decides a sent payment's charge. `exact` is charged at its amount whatever the payee
 * claims; any other scheme at the verified amount when `verifiedAtomic` is given (capped at
 * the authorised amount), else at the authorised amount. A claim of more than authorised,
 * a different network, an unreadable amount, or an `exact` amount other than the one
 * signed, is flagged as suspicious.
 *
 * @example
 * paymentCharge({ scheme: 'exact', network, amount }, { type: 'settled', claimedAtomic: 0n, ... })
 * // { atomic: 10000n, outcome: 'settled', basis: 'authorised', suspicious: 'claimed_less_than_exact_amount' }
 */
export function paymentCharge(
  payment: SentPayment,
  outcome: PaymentOutcome,
  verifiedAtomic?: bigint,
): PaymentCharge {
  const authorised = payment.amount.atomic
  if (outcome.type !== 'settled') {
    return {
      atomic: authorised,
      outcome: 'outcome_unknown',
      basis: 'authorised',
      suspicious: undefined,
    }
  }
  const exact = payment.scheme === 'exact'
  const verified = exact ? undefined : verifiedAtomic
  return {
    atomic: verified === undefined ? authorised : bigMin(verified, authorised),
    outcome: 'settled',
    basis: verified === undefined ? 'authorised' : 'verified',
    suspicious: suspicion(payment, outcome, verified),
  }
}

function suspicion(
  payment: SentPayment,
  outcome: Extract<PaymentOutcome, { type: 'settled' }>,
  verified: bigint | undefined,
): string | undefined {
  const authorised = payment.amount.atomic
  const claimed = outcome.claimedAtomic
  if (outcome.network !== undefined && outcome.network !== payment.network) {
    return 'settlement_network_mismatch'
  }
  if (outcome.claimedRaw !== undefined) return 'settlement_amount_unreadable'
  if (claimed !== undefined && claimed > authorised) return 'claimed_more_than_authorised'
  if (payment.scheme === 'exact' && claimed !== undefined && claimed < authorised) {
    return 'claimed_less_than_exact_amount'
  }
  if (verified !== undefined && verified > authorised) return 'verified_more_than_authorised'
  if (verified !== undefined && claimed !== undefined && claimed !== verified) {
    return 'claim_differs_from_verified'
  }
  return undefined
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
