// What a sent payment costs the agent. One rule: a signed authorisation that left the
// process is money, collectable on chain until it expires whatever the payee answers. It
// is charged at its full authorised amount unless a proven settlement shows less, and
// never at more. The payee's own headers are claims: audited, never believed.
import type { PaymentPayload } from '@x402/core/types'
import type { PaymentOutcome } from './payment-outcome.js'

/**
 * What a payee claims it settled, handed to `verifySettlement` for a scheme that may charge
 * less than it authorised (`upto`). Amounts in the asset's atomic units.
 */
export interface SettlementClaim {
  scheme: string
  network: string
  asset: string
  payTo: string
  /** The transaction the payee named in its settlement header. */
  transaction: string | undefined
  /** What it claims it charged (undefined: it did not say). */
  claimedAtomic: bigint | undefined
  /** The most the signed authorisation allows. */
  authorisedAtomic: bigint
  /** The signed payload that was sent (its nonce or permit identifies the authorisation). */
  paymentPayload: PaymentPayload
}

/**
 * Returns the atomic amount that the transaction consuming this authorisation transferred,
 * read from the chain, or undefined when that cannot be proven (the full authorised amount
 * is then charged). Must not trust the claim: check that the authorisation's nonce is
 * spent, so that it cannot be submitted again for more.
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
 * Decides a sent payment's charge, in atomic units. `exact` is charged at its amount
 * whatever the payee claims; any other settled scheme at the verified amount when one is
 * given (never above the authorised amount), else at the authorised amount. `outcome`:
 * `settled` when the payee claimed a settlement, else `outcome_unknown`. A claim that does
 * not add up is named in `suspicious`, for the audit log.
 *
 * @example
 * paymentCharge({ scheme: 'exact', network, atomic: 10000n }, { reason: 'settled', claimedAtomic: 0n })
 * // { atomic: 10000n, outcome: 'settled', basis: 'authorised', suspicious: 'claimed_less_than_exact_amount' }
 */
export function paymentCharge(
  payment: SentPayment,
  outcome: PaymentOutcome,
  verifiedAtomic?: bigint,
) {
  const authorised = payment.atomic
  const settled = outcome.reason === 'settled'
  const verified = settled && payment.scheme !== 'exact' ? verifiedAtomic : undefined
  return {
    atomic: verified !== undefined && verified < authorised ? verified : authorised,
    outcome: settled ? ('settled' as const) : ('outcome_unknown' as const),
    basis: verified === undefined ? ('authorised' as const) : ('verified' as const),
    suspicious: settled ? suspicion(payment, outcome, verified) : undefined,
  }
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

/**
 * Asks `verifySettlement` what a settlement really moved. Its failure, or an answer that is
 * not an amount, proves nothing (`error` says why, for the audit log).
 */
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
