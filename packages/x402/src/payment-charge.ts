// What a paid request's answer says, for the core's charge rule (`paymentCharge`): the payee
// can collect a sent payment until it expires whatever it answers, so its headers are
// audited, never believed; only `verifySettlement` may prove an `upto` payment moved less.
import { boundedText, type PaymentOutcome, parseAtomic } from '@killswitch/core'
import * as http from '@x402/core/http'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { attempt } from './signed-payload.js'

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

/** A payment that left: its requirements, what it authorised (`atomic`), its signed header. */
export type SignedPayment = Requirement & { atomic: bigint; header: string }

/** What `verifySettlement` is asked about `payment`, given what the payee answered. */
export function settlementClaim(payment: SignedPayment, outcome: PaymentOutcome): SettlementClaim {
  const { scheme, network, asset, payTo, atomic: authorisedAtomic, header } = payment
  const { transaction, claimedAtomic } = outcome
  const claim = { scheme, network, asset, payTo, authorisedAtomic, transaction, claimedAtomic }
  return { ...claim, paymentPayload: http.decodePaymentSignatureHeader(header) }
}
