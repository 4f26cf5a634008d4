// A signed payment's hold, from the veto before it is signed to the end of its request (one
// rule for every adapter that pays, as call-ending.ts is for model calls): refused and
// audited (the agent's revocation first), or held; released if it never left the process;
// once it left, charged at what the payee can collect (`paymentCharge`), whatever it answers.

import type { KillSwitchError } from '../errors.js'
import type { AgentGuard, SpendRequest, SpendTicket } from '../guard-types.js'
import { toUsd } from '../money.js'
import { redactSecrets } from '../redact.js'
import { boundedText } from '../untrusted-text.js'
import { atomicToMicros } from './atomic-amount.js'
import {
  type PaymentOutcome,
  paymentCharge,
  provenAmount,
  type SentPayment,
} from './signed-payment.js'

/**
 * Records a payment refused before it was held (`refusal`: a payee's claim that cannot be
 * priced, say) as a denied spend and returns it, to throw; rejects with the agent's
 * revocation instead, checked first: it is the answer that matters at 2 AM, whatever else is
 * wrong.
 *
 * @example
 * if (refusal) throw await paymentRefusal(guard, spend, refusal)
 */
export async function paymentRefusal(
  guard: Pick<AgentGuard, 'check' | 'refuseSpend'>,
  spend: SpendRequest,
  refusal: KillSwitchError,
): Promise<KillSwitchError> {
  await guard.check()
  await guard.refuseSpend(spend, refusal)
  return refusal
}

/**
 * Holds a payment the payee can collect for up to `validitySeconds` once signed, checking
 * the spend rules and the budget (`reserveSpend`).
 *
 * @example
 * const ticket = await holdPayment(guard, { kind: 'payment', description, payee, amountUsd }, 300)
 */
export async function holdPayment(
  guard: Pick<AgentGuard, 'reserveSpend'>,
  spend: SpendRequest,
  validitySeconds: number,
): Promise<SpendTicket> {
  // A backstop only (every hold is ended with its request), a minute past the validity.
  return guard.reserveSpend({ ...spend, ttlMs: validitySeconds * 1000 + 60_000 })
}

/**
 * Releases the holds of payments that never left the process, recording why: `failure`'s
 * message, masked and bounded (it may quote an RPC URL with its key, or a payee's text). A
 * failed write is not retried: the hold lapses at its TTL, charged.
 *
 * @example
 * await releaseUnsentPayments(guard, unsent.map((payment) => payment.ticket), error)
 */
export async function releaseUnsentPayments(
  guard: Pick<AgentGuard, 'releaseSpend'>,
  tickets: readonly SpendTicket[],
  failure: unknown,
): Promise<void> {
  const message = (failure as Error | undefined)?.message
  const error = typeof message === 'string' ? boundedText(redactSecrets(message)) : null
  const details = { paymentOutcome: 'not_sent', error }
  for (const ticket of tickets) {
    await guard.releaseSpend(ticket, { reason: 'not_sent', details }).catch(() => undefined)
  }
}

/**
 * Settles a payment that left at what the payee can collect (`paymentCharge`, with what
 * `prove`, the caller's verifier named `proverName`, proves when asked: `provenAmount`), in
 * dollars of its USD token (`decimals`), recording until when (`validUntil`, ms since the
 * epoch) the payee can still submit the authorisation.
 *
 * @example
 * await settleSentPayment(guard, ticket, { scheme: 'exact', network, atomic, decimals: 6, validUntil }, outcome)
 */
export async function settleSentPayment(
  guard: Pick<AgentGuard, 'settleSpend'>,
  ticket: SpendTicket,
  payment: SentPayment & { decimals: number; validUntil: number },
  outcome: PaymentOutcome,
  prove?: Parameters<typeof provenAmount>[2],
  proverName = 'the settlement verifier',
): Promise<void> {
  const verified = await provenAmount(payment, outcome, prove, proverName)
  const cost = paymentCharge(payment, outcome, verified)
  const validUntil = new Date(payment.validUntil).toISOString()
  await guard.settleSpend(ticket, {
    amountUsd: toUsd(atomicToMicros(cost.atomic, payment.decimals)),
    details: { ...cost.details, validUntil },
  })
}
