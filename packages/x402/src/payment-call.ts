// One call of the guarded fetch and the payments x402 makes in it: each held before it is
// signed, released if its signature never left the process, charged once it did, whatever
// the payee answers. x402's hooks belong to the x402Client, which concurrent calls share:
// the veto finds its call through AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AgentGuard, BudgetScope, SpendTicket } from '@killswitch/core'
import { findKillSwitchError, revocationError, SpendRefusedError, toUsd } from '@killswitch/core'
import type { PaymentCreationContext, x402Client } from '@x402/core/client'
import { decodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { wrapFetchWithPayment } from '@x402/fetch'
import type { KillSwitchFetchOptions } from './kill-switch-fetch.js'
import { atomicToMicros, type PaymentAmount, paymentAmount } from './payment-amount.js'
import {
  attempt,
  type PaymentOutcome,
  paymentCharge,
  paymentOutcome,
  verifiedAmount,
} from './payment-charge.js'
import { PaymentOutcomeUnknownError, PaymentRefusedError } from './payment-errors.js'

type Settings = KillSwitchFetchOptions & { guard: AgentGuard; scope: BudgetScope }

interface Payment {
  ticket: SpendTicket
  requirements: PaymentRequirements
  amount: PaymentAmount
  resource: string
  /** Set once it left: the signed header, and until when the payee can collect it. */
  sent?: { header: string; validUntil: number | undefined }
}

const calls = new AsyncLocalStorage<PaymentCall>()
const guarded = new WeakSet<x402Client>()

/**
 * Puts the veto on an x402 client, once, in `onBeforePaymentCreation`: the last step before
 * signing. A payment through the client outside a guarded fetch is refused (off the ledger).
 */
export function guardClient(client: x402Client): void {
  if (guarded.has(client)) return
  guarded.add(client)
  client.onBeforePaymentCreation(async (context) => {
    const call = calls.getStore()
    const reason = 'this x402Client is guarded by a kill switch: pay through killSwitchFetch'
    if (!call) return { abort: true, reason }
    // x402 wraps what a hook throws in a plain Error: the guarded fetch throws this one.
    await call.authorise(context).catch((error: Error) => {
      call.refusal = error
      throw error
    })
  })
}

export class PaymentCall {
  readonly #payments: Payment[] = []
  /** The typed error behind a vetoed payment. */
  refusal: Error | undefined

  /** `method`: the HTTP method, for the audit description. */
  constructor(
    readonly settings: Settings,
    readonly method: string,
  ) {}

  /** Pays for `request` through x402, as this call; ends every payment it held. */
  async fetch(request: Request): Promise<Response> {
    const { guard, client } = this.settings
    // Revocation aborts the request in flight too (a paid one that was sent is still
    // charged: the payee holds the signature).
    const signal = AbortSignal.any([request.signal, guard.signal])
    const paying = wrapFetchWithPayment(this.transport, client)
    try {
      const response = await calls.run(this, () => paying(request, { signal }))
      await this.#finish(undefined)
      return response
    } catch (error) {
      await this.#finish(error)
      // The kill switch's own error, not x402's plain wrapper around it; aborted by
      // revocation: say so, not just "aborted".
      if (this.refusal) throw this.refusal
      if (findKillSwitchError(error) || !guard.signal.aborted) throw error
      throw revocationError(guard)
    }
  }

  /** The veto: refuses the payment (revoked, a spend rule, the cap, an unknown asset) or holds it. */
  async authorise(context: PaymentCreationContext): Promise<void> {
    const { guard, scope, assets, allowedPayees, maxPaymentUsd } = this.settings
    const requirements = context.selectedRequirements
    const { payTo: payee, asset, network, scheme, maxTimeoutSeconds } = requirements
    const amount = paymentAmount(requirements, assets)
    const resource = resourceOf(context)
    // Carried into the settled and released entries too (the hold's details are merged).
    const details = { payee, asset, network, resource, scheme }
    const spend = { kind: 'payment', description: `${this.method} ${resource}`, payee, details }
    if (!amount) {
      // Revocation first: it is the answer that matters at 2 AM, whatever else is wrong.
      await guard.check()
      const why = `Payment to ${payee} refused: asset ${asset} on ${network} is not a known USD stablecoin, so it cannot be priced against the cap. If it is one, list it: killSwitchFetch({ assets: [{ network: '${network}', asset: '${asset}', decimals: 6 }] }).`
      const refusal = new PaymentRefusedError('unknown_asset', why, { payee })
      await guard.refuseSpend({ ...spend, amountUsd: 0 }, refusal)
      throw refusal
    }
    const ticket = await guard
      .reserveSpend({
        ...{ ...scope, ...spend, amountUsd: amount.usd },
        details: { ...details, amountAtomic: String(amount.atomic), amountUsd: amount.usd },
        rules: { allowedPayees, maxSpendUsd: maxPaymentUsd },
        // A backstop only (every hold is ended with its call), a minute past the validity.
        ttlMs: maxTimeoutSeconds > 0 ? maxTimeoutSeconds * 1000 + 60_000 : undefined,
      })
      .catch((error: unknown) => {
        throw error instanceof SpendRefusedError ? PaymentRefusedError.fromSpendRule(error) : error
      })
    this.#payments.push({ ticket, requirements, amount, resource })
  }

  /**
   * The transport under x402: a paid request is charged by its answer before the answer is
   * handed back. A payment header the kill switch did not authorise is not sent.
   */
  transport: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const header = request.headers.get('PAYMENT-SIGNATURE') ?? request.headers.get('X-PAYMENT')
    if (header === null) return (this.settings.fetch ?? fetch)(request)
    const payment = this.#payments.at(-1)
    if (!payment || payment.sent) {
      const message = `A payment header the kill switch did not authorise: not sent (pay through killSwitchFetch).`
      throw new PaymentRefusedError('unaccounted_payment', message)
    }
    // Aborted before it left (revoked, or the caller gave up): its hold is released.
    request.signal.throwIfAborted()
    // x402 signs for the route's maxTimeoutSeconds: past that an answer changes nothing (it
    // is charged either way), so a payee that never answers cannot hold the call open.
    const validityMs = payment.requirements.maxTimeoutSeconds * 1000
    const validUntil = validityMs > 0 ? Date.now() + validityMs : undefined
    const expiry = validUntil ? [AbortSignal.timeout(Math.max(validityMs, 1_000))] : []
    payment.sent = { header, validUntil }
    let outcome: PaymentOutcome = { reason: 'no_response' }
    try {
      const signal = AbortSignal.any([request.signal, ...expiry])
      const response = await (this.settings.fetch ?? fetch)(new Request(request, { signal }))
      outcome = paymentOutcome(response.status, (name) => response.headers.get(name))
      return response
    } catch (error) {
      // The signed authorisation may have reached the payee: it can collect it.
      const { requirements, amount, resource } = payment
      const details = [requirements.payTo, amount.usd, resource, validUntil ?? Date.now()] as const
      throw new PaymentOutcomeUnknownError(...details, { cause: error })
    } finally {
      await this.#charge(payment, outcome)
    }
  }

  /** Releases the payments never sent (the transport charged the others). */
  async #finish(error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : null
    const ending = { reason: 'not_sent', details: { paymentOutcome: 'not_sent', error: message } }
    for (const { ticket, sent } of this.#payments) {
      // A failed write is not retried: the hold lapses at its TTL, charged.
      if (!sent) await this.settings.guard.releaseSpend(ticket, ending).catch(() => undefined)
    }
  }

  /** Settles a sent payment at what the payee can collect (`paymentCharge`), never less. */
  async #charge({ ticket, requirements, amount, sent }: Payment, outcome: PaymentOutcome) {
    const { scheme, network, asset, payTo } = requirements
    const { verifySettlement, guard } = this.settings
    const paymentPayload = sent && attempt(() => decodePaymentSignatureHeader(sent.header))
    // Only a claimed settlement of a scheme that may charge less is worth proving.
    const verified =
      verifySettlement && paymentPayload && outcome.reason === 'settled' && scheme !== 'exact'
        ? await verifiedAmount(verifySettlement, {
            ...{ scheme, network, asset, payTo, authorisedAtomic: amount.atomic, paymentPayload },
            ...{ transaction: outcome.transaction, claimedAtomic: outcome.claimedAtomic },
          })
        : {}
    const charge = paymentCharge({ scheme, network, atomic: amount.atomic }, outcome, verified)
    // Until `validUntil` the payee can still submit the authorisation on chain.
    const validUntil = new Date(sent?.validUntil ?? Date.now()).toISOString()
    await guard.settleSpend(ticket, {
      amountUsd: toUsd(atomicToMicros(charge.atomic, amount.decimals)),
      details: { ...charge.details, validUntil },
    })
  }
}

/** The paid resource's URL without its query string (queries carry the agent's data). */
function resourceOf({ paymentRequired, selectedRequirements }: PaymentCreationContext): string {
  // v2 names the resource in the 402 response; v1 in each requirement.
  const v1 = (selectedRequirements as { resource?: unknown }).resource
  const url = paymentRequired.resource?.url ?? (typeof v1 === 'string' ? v1 : '')
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed ? `${parsed.origin}${parsed.pathname}` : (url.split(/[?#]/)[0] ?? '')
}
