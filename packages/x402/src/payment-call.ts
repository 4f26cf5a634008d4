// One call of the guarded fetch and its x402 payments: each held before it is signed,
// released if it never left the process, charged once it did, whatever the payee answers.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AgentGuard, BudgetScope, SpendTicket } from '@killswitch/core'
import {
  boundedText,
  confirmPaymentSend,
  findKillSwitchError,
  holdPayment,
  type PaymentAmount,
  type PaymentOutcome,
  PaymentOutcomeUnknownError,
  PaymentRefusedError,
  paymentRefusal,
  redactSecrets,
  releaseUnsentPayments,
  revocationError,
  type SpendRules,
  settleSentPayment,
  shownText,
  shownUrl,
} from '@killswitch/core'
import type { PaymentCreationContext, x402Client } from '@x402/core/client'
import type { PaymentRequirements } from '@x402/core/types'
import { wrapFetchWithPayment } from '@x402/fetch'
import type { KillSwitchFetchOptions } from './kill-switch-fetch.js'
import { pricedClaim } from './payee-claims.js'
import { paymentOutcome, type SignedPayment, settlementClaim } from './payment-charge.js'
import { preferPayable } from './payment-preference.js'
import { paymentResource } from './payment-resource.js'
import { signedAtomic, signedValidUntil } from './signed-payload.js'

interface Payment {
  ticket: SpendTicket
  requirements: PaymentRequirements
  amount: PaymentAmount
  resource: string
  sent?: SignedPayment & { decimals: number; validUntil: number }
}

const UNHELD = 'Not sent: a payment header the kill switch did not hold (use killSwitchFetch).'
const UNREADABLE =
  'Not sent: the signed authorisation does not say how much it authorises in a readable amount (a string of digits), so what the payee could collect is not known.'
const OVER_HELD = (signed: bigint, held: bigint) =>
  `Not sent: the signed payment authorises ${signed} atomic units, more than the ${held} the kill switch priced and held (a scheme client signing other than the requirements' amount).`
/** The abort of a payment whose payee did not answer before its authorisation expired. */
const expired = () =>
  new DOMException('The signed payment expired before the payee answered', 'TimeoutError')
// x402's hooks belong to the client, which concurrent calls share.
const calls = new AsyncLocalStorage<PaymentCall>()
const guarded = new WeakSet<x402Client>()

/** The fetch's options, with its guard, budget scope and own spend rules (`PaymentRules`). */
export type FetchSettings = KillSwitchFetchOptions & {
  guard: AgentGuard
  scope: BudgetScope
  rules: SpendRules
}

/** The fetch's names for the core's spend rules: its options, in refusals and bad input. */
export const FETCH_RULE_NAMES = { owner: 'killSwitchFetch', maxSpendUsd: 'maxPaymentUsd' } as const

/**
 * Puts the veto on a client, once, in its last step before signing (outside a call it
 * refuses), and a policy that prefers the options the veto would pay.
 */
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
 * logs. Shown bounded and printable, with the resource asked for; undefined for another
 * error (it passes unchanged).
 */
function x402Error(error: unknown, requested: string): Error | undefined {
  if (!(error instanceof Error) || error.constructor !== Error) return undefined
  const message = boundedText(redactSecrets(error.message))
  return new Error(`x402 could not pay for ${shownUrl(requested)}: ${message}`)
}

export class PaymentCall {
  readonly #payments: Payment[] = []
  refusal: Error | undefined
  /** The URL whose 402 is being paid, when a redirect led there from the request's. */
  #answered: string | undefined
  /** A payee answered 402: what x402 then cannot pay is a refused payment. */
  #asked = false

  constructor(
    readonly settings: FetchSettings,
    readonly request: Request,
  ) {}

  /** The agent's own spend rules, read before x402 chooses (its policy hook is synchronous). */
  agentRules: SpendRules | undefined

  /** Pays for the request through x402 as this call, and ends every payment it held. */
  async fetch(): Promise<Response> {
    const { guard, client } = this.settings
    this.agentRules = await guard.spendRules()
    // Revocation aborts the request in flight too (sent, it is still charged).
    const signal = AbortSignal.any([this.request.signal, guard.signal])
    const paying = wrapFetchWithPayment(this.transport, client)
    let failure: unknown
    try {
      return await calls.run(this, () => paying(this.request, { signal }))
    } catch (error) {
      failure = error
      // The kill switch's own error, not x402's plain wrapper; revoked: not just "aborted".
      if (this.refusal) throw this.refusal
      if (findKillSwitchError(error)) throw error
      if (guard.signal.aborted) throw revocationError(guard)
      const unpayable = x402Error(error, this.request.url)
      // A 402 x402 could not pay before anything was held (once held, its release says why).
      if (unpayable && this.#asked && this.#payments.length === 0) {
        await this.#refuseUnpayable(unpayable)
      }
      throw unpayable ?? error
    } finally {
      // Releases the payments never sent (the transport charged the rest).
      const unsent = this.#payments.filter((payment) => !payment.sent).map(({ ticket }) => ticket)
      await releaseUnsentPayments(guard, unsent, failure)
    }
  }

  /** Audits a 402 x402 could not pay as a refused payment: the operator sees what was asked. */
  async #refuseUnpayable(error: Error): Promise<void> {
    const { guard, scope } = this.settings
    const resource = shownUrl(this.request.url)
    const description = `${this.request.method} ${resource}`
    const spend = { ...scope, kind: 'payment', description, amountUsd: 0, details: { resource } }
    await paymentRefusal(guard, spend, new PaymentRefusedError('unpayable', error.message))
  }

  /** The veto: refuses a payment (revoked, a spend rule, the cap, an unknown asset) or holds it. */
  async authorise(context: PaymentCreationContext): Promise<undefined> {
    const { guard, scope, assets = [], rules } = this.settings
    const { paymentRequired, selectedRequirements: requirements } = context
    const { payTo, asset, network, scheme, maxTimeoutSeconds } = requirements
    const { amount, refusal } = pricedClaim(requirements, assets, paymentRequired.x402Version)
    const where = paymentResource(this.request.url, this.#answered, context)
    // The payee's strings, bounded for the log; a payee that passes `pricedClaim` is unchanged.
    const payee = shownText(payTo)
    const [assetText, networkText, schemeText] = [asset, network, scheme].map(shownText)
    const shown = { payee, asset: assetText, network: networkText, scheme: schemeText }
    // As many digits as the payee likes: bounded (a held amount has at most 46).
    const amountAtomic = amount && boundedText(String(amount.atomic), 60)
    const details = { ...shown, ...where, ...(amount && { amountAtomic, amountUsd: amount.usd }) }
    const via = where.redirectedTo ? ` (redirected to ${where.redirectedTo})` : ''
    const description = `${this.request.method} ${where.resource}${via}`
    const amountUsd = amount?.usd ?? 0
    const spend = { ...scope, kind: 'payment', description, payee, amountUsd, details }
    // The core checks the spend rules, the agent's and this fetch's, then holds the amount.
    const held = { ...spend, rules, rulesNamed: FETCH_RULE_NAMES }
    if (refusal) throw await paymentRefusal(guard, held, refusal)
    const ticket = await holdPayment(guard, held, maxTimeoutSeconds)
    this.#payments.push({ ticket, requirements, amount, resource: where.resource })
  }

  /** Under x402: charges a paid request by its answer; never sends a payment it did not hold. */
  transport: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const send = this.settings.fetch ?? fetch
    const header = request.headers.get('PAYMENT-SIGNATURE') ?? request.headers.get('X-PAYMENT')
    if (header === null) {
      const response = await send(request)
      // Where a redirect led: the payee whose 402 x402 is about to pay.
      if (response.status === 402) {
        this.#asked = true
        this.#answered = response.url || undefined
      }
      return response
    }
    const payment = this.#payments.at(-1)
    if (!payment || payment.sent) throw new PaymentRefusedError('unaccounted_payment', UNHELD)
    const { requirements, amount, resource } = payment
    // What is signed is what the payee can collect: never more than was held.
    const signed = signedAtomic(header)
    if (signed === null || (signed !== undefined && signed > amount.atomic)) {
      const why = signed === null ? UNREADABLE : OVER_HELD(signed, amount.atomic)
      throw new PaymentRefusedError('unaccounted_payment', why, requirements.payTo)
    }
    // Past the validity signed into it no answer can lower the charge, so a payee that never
    // answers cannot hold the call open; a validity that cannot be read is not sent.
    const validUntil = signedValidUntil(header, requirements, Date.now())
    // Revoked (here or in another process) or the caller gave up: never sent, its hold is
    // released.
    const { guard, scope } = this.settings
    await confirmPaymentSend(guard, request.signal, scope.runId)
    const sent = { ...requirements, ...amount, header, validUntil }
    payment.sent = sent
    let outcome: PaymentOutcome = { reason: 'no_response' }
    // The validity bounds the wait for the answer only: the body of an answer (a paid stream)
    // is read to its end, cut only by revocation or the caller's signal (`request.signal`).
    const unanswered = new AbortController()
    const expiry = setTimeout(() => unanswered.abort(expired()), validUntil - Date.now())
    try {
      const signal = AbortSignal.any([request.signal, unanswered.signal])
      const response = await send(new Request(request, { signal }))
      outcome = paymentOutcome(response.status, (name) => response.headers.get(name))
      return response
    } catch (error) {
      // The signed authorisation may have reached the payee: it can collect it.
      const lost = [requirements.payTo, amount.usd, resource, sent.validUntil] as const
      throw new PaymentOutcomeUnknownError(...lost, { cause: error })
    } finally {
      clearTimeout(expiry)
      // At what the payee can collect (the core's `paymentCharge`), or a verifier proves.
      const { verifySettlement: verify } = this.settings
      const prove = verify && (() => verify(settlementClaim(sent, outcome)))
      await settleSentPayment(guard, payment.ticket, sent, outcome, prove, 'verifySettlement')
    }
  }
}
