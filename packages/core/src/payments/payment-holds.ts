// A signed payment's hold, from the veto before it is signed to the end of its request (one
// rule for every adapter that pays, as call-ending.ts is for model calls): refused and
// audited (the agent's revocation first), or held; released if it never left the process;
// once it left, charged at what the payee can collect (`paymentCharge`), whatever it answers.

import { type KillSwitchError, StoreUnavailableError } from '../errors.js'
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
 * The last check before a signed payment leaves: the agent read afresh from the store (a
 * revocation another process made is in force before this process's `signal` hears of it,
 * and signing may have kept its poll from running), then `signal` (the caller gave up).
 * Rejected, the payment was never sent: release its hold (`releaseUnsentPayments`).
 *
 * @example
 * await confirmPaymentSend(guard, request.signal, scope.runId)
 * const response = await send(request)
 */
export async function confirmPaymentSend(
  guard: Pick<AgentGuard, 'check'>,
  signal: AbortSignal,
  runId?: string,
): Promise<void> {
  await guard.check({ runId, fresh: true })
  signal.throwIfAborted()
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
 * epoch) the payee can still submit the authorisation. An unknown outcome is charged as
 * unreconciled spend (`settleSpend`'s `unreconciled`). A store that cannot take the settle
 * now does not fail it: the payment left, so its answer is the caller's (a refusal would read
 * as "not paid", and a retry pays twice); the store's outbox delivers the settle once the
 * store is back, and a process that dies first leaves the hold to lapse, charged in full.
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
  const settled = guard.settleSpend(ticket, {
    amountUsd: toUsd(atomicToMicros(cost.atomic, payment.decimals)),
    details: { ...cost.details, validUntil },
    // What the payee can collect is a bound until the truth arrives (the chain, its receipt):
    // unreconciled, so a reconcile (or the payee's late word) can correct it, once.
    unreconciled: cost.details.paymentOutcome === 'outcome_unknown',
  })
  // Exactly what the outbox retries (`StoreOutbox.deliver`); anything else is a real fault.
  await settled.catch((error: unknown) => {
    if (!(error instanceof StoreUnavailableError)) throw error
  })
}
