// One call of the guarded fetch and its x402 payments: each held before it is signed,
// released if it never left the process, charged once it did, whatever the payee answers.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AgentGuard, BudgetScope, SpendTicket } from '@killswitch/core'
import {
  findKillSwitchError,
  redactSecrets,
  revocationError,
  type SpendRules,
  toUsd,
} from '@killswitch/core'
import type { PaymentCreationContext, x402Client } from '@x402/core/client'
import type { PaymentRequirements } from '@x402/core/types'
import { wrapFetchWithPayment } from '@x402/fetch'
import { boundedText, shownValue } from './bounded-text.js'
import type { KillSwitchFetchOptions } from './kill-switch-fetch.js'
import { badClaim, unholdable } from './payee-claims.js'
import {
  atomicToMicros,
  type PaymentAmount,
  paymentAmount,
  signedAtomic,
  unpricedPayment,
} from './payment-amount.js'
import * as charge from './payment-charge.js'
import { PaymentOutcomeUnknownError, PaymentRefusedError } from './payment-errors.js'
import { preferPayable } from './payment-preference.js'
import { paymentResource, withoutQuery } from './payment-resource.js'
import { signedValidUntil } from './payment-validity.js'

interface Payment {
  ticket: SpendTicket
  requirements: PaymentRequirements
  amount: PaymentAmount
  resource: string
  sent?: Sent
}
type Sent = charge.SignedPayment & { validUntil: number }

const UNHELD = 'Not sent: a payment header the kill switch did not hold (use killSwitchFetch).'
const UNREADABLE =
  'Not sent: the signed authorisation does not say how much it authorises in a readable amount (a string of digits), so what the payee could collect is not known.'
const OVER_HELD = (signed: bigint, held: bigint) =>
  `Not sent: the signed payment authorises ${signed} atomic units, more than the ${held} the kill switch priced and held (a scheme client signing other than the requirements' amount).`
// x402's hooks belong to the client, which concurrent calls share.
const calls = new AsyncLocalStorage<PaymentCall>()
const guarded = new WeakSet<x402Client>()

/**
 * Puts the veto on a client, once, in its last step before signing (outside a call it
 * refuses), and a policy that prefers the options the veto would pay.
 */
/** The fetch's names for the core's spend rules: its options, in refusals and bad input. */
export const FETCH_RULE_NAMES = { owner: 'killSwitchFetch', maxSpendUsd: 'maxPaymentUsd' } as const

export function guardClient(client: x402Client): void {
  if (guarded.has(client)) return
  guarded.add(client)
  // Duck-typed, as the client is: one without policies still has the veto.
  if (typeof client.registerPolicy === 'function') {
    client.registerPolicy((version, accepts) => {
      const call = calls.getStore()
      return call ? preferPayable(accepts, version, call.settings, call.agentRules) : accepts
    })
  }
  client.onBeforePaymentCreation(async (context) => {
    const call = calls.getStore()
    if (!call) return { abort: true, reason: 'the client is guarded: pay through killSwitchFetch' }
    // x402 turns a veto into a plain Error: the guarded fetch throws this one instead.
    call.refusal = await call.authorise(context).catch((error: Error) => error)
    return call.refusal && { abort: true, reason: call.refusal.message }
  })
}

/**
 * x402's own errors (plain Errors: nothing it can pay, a 402 it cannot parse) quote the
 * payee's 402 whole: kilobytes of the payee's text, forged lines included, in the caller's
 * logs. Shown bounded and printable, with the resource asked for. Others pass unchanged.
 */
function x402Error(error: unknown, requested: string): unknown {
  if (!(error instanceof Error) || error.constructor !== Error) return error
  const message = boundedText(redactSecrets(error.message))
  return new Error(`x402 could not pay for ${withoutQuery(requested)}: ${message}`)
}

export class PaymentCall {
  readonly #payments: Payment[] = []
  refusal: Error | undefined
  /** The URL the agent requested, and the one whose 402 is being paid (after redirects). */
  #requested = ''
  #answered: string | undefined

  constructor(
    readonly settings: KillSwitchFetchOptions & { guard: AgentGuard; scope: BudgetScope },
    readonly method: string,
  ) {}

  /** The agent's own spend rules, read before x402 chooses (its policy hook is synchronous). */
  agentRules: SpendRules | undefined

  /** Pays for `request` through x402 as this call, and ends every payment it held. */
  async fetch(request: Request): Promise<Response> {
    const { guard, client } = this.settings
    this.agentRules = await guard.spendRules()
    // Revocation aborts the request in flight too (sent, it is still charged).
    const signal = AbortSignal.any([request.signal, guard.signal])
    const paying = wrapFetchWithPayment(this.transport, client)
    this.#requested = request.url
    let failure: unknown
    try {
      return await calls.run(this, () => paying(request, { signal }))
    } catch (error) {
      failure = error
      // The kill switch's own error, not x402's plain wrapper; revoked: not just "aborted".
      if (this.refusal) throw this.refusal
      if (findKillSwitchError(error)) throw error
      if (guard.signal.aborted) throw revocationError(guard)
      throw x402Error(error, this.#requested)
    } finally {
      // Releases the payments never sent (the transport charged the rest); a failed write
      // is not retried: the hold lapses at its TTL, charged.
      // The error may quote an RPC URL with its key, or a payee's text: masked and bounded.
      const message = (failure as Error | undefined)?.message
      const error = typeof message === 'string' ? boundedText(redactSecrets(message)) : null
      const details = { paymentOutcome: 'not_sent', error }
      for (const { ticket } of this.#payments.filter((payment) => !payment.sent)) {
        await guard.releaseSpend(ticket, { reason: 'not_sent', details }).catch(() => undefined)
      }
    }
  }

  /** The veto: refuses a payment (revoked, a spend rule, the cap, an unknown asset) or holds it. */
  async authorise(context: PaymentCreationContext): Promise<undefined> {
    const { guard, scope, assets = [], allowedPayees, maxPaymentUsd } = this.settings
    const requirements = context.selectedRequirements
    const { payTo, asset, network, scheme, maxTimeoutSeconds } = requirements
    const version = context.paymentRequired.x402Version
    const where = paymentResource(this.#requested, this.#answered, context)
    // The payee's strings, bounded for the log; a payee that passes `badClaim` is unchanged.
    const payee = boundedText(payTo) ?? shownValue(payTo)
    const [assetText, networkText, schemeText] = [asset, network, scheme].map(
      (value) => boundedText(value) ?? shownValue(value),
    )
    const details = { payee, asset: assetText, network: networkText, scheme: schemeText, ...where }
    const via = where.redirectedTo ? ` (redirected to ${where.redirectedTo})` : ''
    const spend = { kind: 'payment', description: `${this.method} ${where.resource}${via}`, payee }
    // Before pricing: pricing reads the asset, and the hold the payee and the validity.
    const bad = badClaim(requirements)
    if (bad) throw await this.#refused({ ...spend, details, amountUsd: 0 }, bad)
    const amount = paymentAmount(requirements, assets, version)
    if (!amount) {
      const refusal = unpricedPayment(requirements, assets, version)
      throw await this.#refused({ ...spend, details, amountUsd: 0 }, refusal)
    }
    const atomic = String(amount.atomic)
    const tooMuch = unholdable(amount, requirements)
    if (tooMuch) {
      // As many digits as the payee likes: bounded (a held amount has at most 46).
      const shown = { ...details, amountAtomic: boundedText(atomic, 60), amountUsd: amount.usd }
      throw await this.#refused({ ...spend, details: shown, amountUsd: amount.usd }, tooMuch)
    }
    const priced = {
      ...spend,
      details: { ...details, amountAtomic: atomic, amountUsd: amount.usd },
    }
    // The core checks the spend rules, the agent's and this fetch's, then holds the amount.
    const ticket = await guard.reserveSpend({
      ...{ ...scope, ...priced, amountUsd: amount.usd },
      rules: { allowedPayees, maxSpendUsd: maxPaymentUsd },
      rulesNamed: FETCH_RULE_NAMES,
      // A backstop only (every hold is ended with its call), a minute past the validity.
      ttlMs: maxTimeoutSeconds * 1000 + 60_000,
    })
    this.#payments.push({ ticket, requirements, amount, resource: where.resource })
  }

  /** Audits `refusal` of `spend` as denied, and returns it to throw. */
  async #refused(spend: Parameters<AgentGuard['refuseSpend']>[0], refusal: PaymentRefusedError) {
    const { guard } = this.settings
    // Revocation first: it is the answer that matters at 2 AM, whatever else is wrong.
    await guard.check()
    await guard.refuseSpend(spend, refusal)
    return refusal
  }

  /** Under x402: charges a paid request by its answer; never sends a payment it did not hold. */
  transport: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const send = this.settings.fetch ?? fetch
    const header = request.headers.get('PAYMENT-SIGNATURE') ?? request.headers.get('X-PAYMENT')
    if (header === null) {
      const response = await send(request)
      // Where a redirect led: the payee whose 402 x402 is about to pay.
      if (response.status === 402) this.#answered = response.url || undefined
      return response
    }
    const payment = this.#payments.at(-1)
    if (!payment || payment.sent) throw new PaymentRefusedError('unaccounted_payment', UNHELD)
    // What is signed is what the payee can collect: never more than was held.
    const signed = signedAtomic(header)
    if (signed === null || (signed !== undefined && signed > payment.amount.atomic)) {
      const why = signed === null ? UNREADABLE : OVER_HELD(signed, payment.amount.atomic)
      throw new PaymentRefusedError('unaccounted_payment', why, payment.requirements.payTo)
    }
    // Aborted before it left (revoked, or the caller gave up): its hold is released.
    request.signal.throwIfAborted()
    // Past the validity signed into it no answer can lower the charge, so a payee that never
    // answers cannot hold the call open; a validity that cannot be read is not sent.
    const { requirements, amount, resource } = payment
    const now = Date.now()
    const validUntil = signedValidUntil(header, requirements, now)
    const sent = { ...requirements, atomic: amount.atomic, header, validUntil }
    payment.sent = sent
    let outcome: charge.PaymentOutcome = { reason: 'no_response' }
    try {
      const signal = AbortSignal.any([request.signal, AbortSignal.timeout(validUntil - now)])
      const response = await send(new Request(request, { signal }))
      outcome = charge.paymentOutcome(response.status, (name) => response.headers.get(name))
      return response
    } catch (error) {
      // The signed authorisation may have reached the payee: it can collect it.
      const lost = [requirements.payTo, amount.usd, resource, sent.validUntil] as const
      throw new PaymentOutcomeUnknownError(...lost, { cause: error })
    } finally {
      await this.#charge(payment, sent, outcome)
    }
  }

  /** Settles a sent payment at what the payee can collect (`paymentCharge`), never less. */
  async #charge({ ticket, amount }: Payment, sent: Sent, outcome: charge.PaymentOutcome) {
    const { verifySettlement, guard } = this.settings
    const verified = await charge.verifyClaim(verifySettlement, outcome, sent)
    const cost = charge.paymentCharge(sent, outcome, verified)
    // Until `validUntil` the payee can still submit the authorisation on chain.
    const validUntil = new Date(sent.validUntil).toISOString()
    await guard.settleSpend(ticket, {
      amountUsd: toUsd(atomicToMicros(cost.atomic, amount.decimals)),
      details: { ...cost.details, validUntil },
    })
  }
}
