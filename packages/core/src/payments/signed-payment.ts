// What a signed payment is charged: it is money once signed. The payee can collect a signed
// authorisation until it expires, whatever it answers, so it is charged at its full
// authorised amount unless a settlement consistent with what was signed proves less (`exact`
// settles at its amount; `upto` at a proven amount no greater than authorised). A second 402,
// a 5xx, no settlement, a dropped connection or a payee that never answers all leave it
// charged in full, `outcome_unknown`. The payee's claims are audited, never believed.
// Amounts are atomic units of the payment's token (`atomic-amount.ts`).

import { boundedText } from '../untrusted-text.js'
import { parseAtomic } from './atomic-amount.js'

/**
 * The longest validity a signed payment may have: a day. Payment routes ask for minutes
 * (x402: 300 s by default), and a call whose payee never answers stays open until its
 * payment expires.
 */
export const MAX_VALIDITY_SECONDS = 86_400

/**
 * Until when (ms since the epoch) the payee can collect a payment whose signature says it is
 * valid until `until` (seconds since the epoch, a string of digits, as EIP-3009's
 * `validBefore` and Permit2's `deadline` are written); undefined when that is unreadable,
 * already past or more than `MAX_VALIDITY_SECONDS` ahead: such a payment is not sent.
 *
 * @example
 * signedValidity(String(Math.floor(Date.now() / 1000) + 300), Date.now()) // 5 minutes on
 */
export function signedValidity(until: unknown, now: number): number | undefined {
  const seconds = parseAtomic(until)
  const ms = seconds === undefined ? Number.NaN : Number(seconds) * 1000
  return ms > now && ms <= now + MAX_VALIDITY_SECONDS * 1000 ? ms : undefined
}

/** A payment that left: its scheme (`exact`, `upto`), network and the most it authorises. */
export interface SentPayment {
  scheme: string
  network: string
  atomic: bigint
}

/**
 * What the payee answered a paid request: `settled` (a settlement says so), else why
 * nothing is proven. Its strings are the payee's, bounded for the audit log.
 */
export interface PaymentOutcome {
  reason:
    | 'settled'
    | 'no_response'
    | 'settle_failed'
    | 'payment_required'
    | 'server_error'
    | 'no_settlement'
  status?: number | undefined
  claimedAtomic?: bigint | undefined
  /** A claimed amount that is not atomic units, as the payee wrote it. */
  claimedAmount?: string | undefined
  transaction?: string | undefined
  network?: string | undefined
  errorReason?: string | undefined
}

/** What a verifier proved a settled payment moved (`atomic`), or why it proved nothing. */
export type ProvenAmount = { atomic?: bigint | undefined; error?: string | undefined }

/**
 * What `prove` (the caller's verifier, called `name` in its error) proves a payment moved,
 * asked only for a claimed settlement of a scheme that may charge less than it authorises;
 * a failure, or an answer that is not an atomic amount, proves nothing.
 *
 * @example
 * const verified = await provenAmount(payment, outcome, () => readChain(tx), 'verifySettlement')
 */
export async function provenAmount(
  payment: SentPayment,
  outcome: PaymentOutcome,
  prove: (() => PromiseLike<bigint | undefined> | bigint | undefined) | undefined,
  name: string,
): Promise<ProvenAmount> {
  if (!prove || outcome.reason !== 'settled' || payment.scheme === 'exact') return {}
  try {
    // Checked at runtime: a verifier in plain JavaScript returns what it likes.
    const atomic: unknown = await prove()
    if (atomic === undefined || (typeof atomic === 'bigint' && atomic >= 0n)) return { atomic }
    return { error: `${name} returned no bigint amount >= 0` }
  } catch (error) {
    return { error: boundedText(error instanceof Error ? error.message : String(error)) }
  }
}

/**
 * A sent payment's charge (atomic units) and audit details: `exact` at its amount, another
 * scheme once settled at what `verified` proves (never more), anything else in full.
 *
 * @example
 * paymentCharge({ scheme: 'exact', network, atomic: 10_000n }, { reason: 'server_error' }).atomic // 10_000n
 */
export function paymentCharge(
  payment: SentPayment,
  outcome: PaymentOutcome,
  verified: ProvenAmount = {},
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
