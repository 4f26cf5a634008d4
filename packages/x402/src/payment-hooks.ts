// The x402 client hooks that put a payment on the kill switch ledger. The veto runs in
// `onBeforePaymentCreation`, the last step before the signer is called: a refused payment
// is never signed.
import type { PaymentCreationContext, x402Client } from '@x402/core/client'
import type { PaymentPayload } from '@x402/core/types'
import { paymentAmount } from './payment-amount.js'
import { type PaymentCall, paymentCalls } from './payment-call.js'
import { checkPaymentRules } from './payment-rules.js'

/** Grace on top of the authorisation's validity, for clock skew between us and the chain. */
const VALIDITY_GRACE_MS = 60_000

const guarded = new WeakSet<x402Client>()

/**
 * Installs the kill switch hooks on an x402 client (once; later calls do nothing). A
 * payment is then allowed only inside a call of a fetch from `killSwitchFetch`: one
 * attempted through this client any other way is refused, because its outcome could not
 * be put on the ledger.
 *
 * @example
 * guardPaymentHooks(client) // killSwitchFetch does this for you
 */
export function guardPaymentHooks(client: x402Client): void {
  if (guarded.has(client)) return
  guarded.add(client)
  client.onBeforePaymentCreation(async (context) => {
    const call = paymentCalls.getStore()
    if (!call) {
      return {
        abort: true,
        reason:
          'this x402Client is guarded by a kill switch: pay through the fetch that killSwitchFetch returned',
      }
    }
    try {
      await authorisePayment(call, context)
      return undefined
    } catch (error) {
      // x402 turns a veto into a plain Error; the guarded fetch rethrows this one instead.
      call.refusal = error instanceof Error ? error : new Error(String(error))
      return { abort: true, reason: call.refusal.message }
    }
  })
  client.onAfterPaymentCreation(async (context) => {
    const payment = paymentCalls.getStore()?.unsent()
    if (!payment) return
    payment.state = 'signed'
    payment.payload = context.paymentPayload
    payment.validUntil =
      signedValidBefore(context.paymentPayload) ?? Date.now() + (payment.validityMs ?? 0)
  })
}

/**
 * Refuses the payment (revoked, payment rules, over the cap, store down) or holds its
 * amount against the agent's cap, atomically with its model-call spend.
 */
async function authorisePayment(call: PaymentCall, context: PaymentCreationContext) {
  // Revocation first: it is the answer that matters at 2 AM, whatever else is wrong.
  await call.guard.check()
  const requirements = context.selectedRequirements
  const amount = paymentAmount(requirements, call.rules.assets)
  const resource = resourceOf(context)
  const refusal = checkPaymentRules(requirements, amount, call.rules)
  // What the audit log names for a refusal, a hold and (merged in) its settlement.
  const spend = {
    kind: 'payment',
    description: `${call.method} ${resource}`,
    details: {
      payee: requirements.payTo,
      asset: requirements.asset,
      network: requirements.network,
      resource,
    },
  }
  if (refusal || !amount) {
    if (refusal) {
      const details = { ...spend.details, paymentRule: refusal.rule }
      await call.guard.refuseSpend({ ...spend, amountUsd: amount?.usd ?? 0, details }, refusal)
    }
    throw refusal
  }
  const ms = requirements.maxTimeoutSeconds * 1000
  const validityMs = Number.isFinite(ms) && ms > 0 ? ms : undefined
  // A backstop only: every hold is settled or released explicitly when its call ends.
  const ttlMs = validityMs === undefined ? undefined : validityMs + VALIDITY_GRACE_MS
  const ticket = await call.guard.reserveSpend({
    ...spend,
    amountUsd: amount.usd,
    details: {
      ...spend.details,
      scheme: requirements.scheme,
      amountAtomic: String(amount.atomic),
      // Carried into the settled and released entries too (the hold's details are merged).
      amountUsd: amount.usd,
    },
    ttlMs,
  })
  call.payments.push({
    ticket,
    amount,
    scheme: requirements.scheme,
    network: requirements.network,
    asset: requirements.asset,
    payee: requirements.payTo,
    resource,
    validityMs,
    validUntil: undefined,
    payload: undefined,
    state: 'reserved',
  })
}

/**
 * When a signed authorisation expires, read from the payload (EIP-3009's `validBefore`,
 * in seconds), or undefined when the scheme's payload does not say so plainly.
 */
function signedValidBefore(payload: PaymentPayload): number | undefined {
  const inner = payload.payload as { authorization?: { validBefore?: unknown } } | undefined
  const value = inner?.authorization?.validBefore
  const seconds = typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : NaN
  return Number.isFinite(seconds) ? seconds * 1000 : undefined
}

/** The paid resource's URL without its query string or fragment. */
function resourceOf(context: PaymentCreationContext): string {
  // v2 names the resource in the 402 response; v1 in each requirement.
  const v1 = context.selectedRequirements as { resource?: unknown }
  const url =
    context.paymentRequired.resource?.url ?? (typeof v1.resource === 'string' ? v1.resource : '')
  try {
    const parsed = new URL(url)
    return `${parsed.origin}${parsed.pathname}`
  } catch {
    return url.split(/[?#]/)[0] ?? ''
  }
}
