// One call of the guarded fetch and the payments x402 makes inside it: each held before it
// is signed, released if its signature never left the process, charged once it did,
// whatever the payee answers. The x402 hook finds the call through AsyncLocalStorage: hooks
// belong to the x402Client, shared by every concurrent call.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AgentGuard, BudgetScope, SpendRules, SpendTicket } from '@killswitch/core'
import { SpendRefusedError } from '@killswitch/core'
import type { PaymentCreationContext } from '@x402/core/client'
import { decodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import type { PaymentAmount, PaymentAsset } from './payment-amount.js'
import { atomicToMicros, paymentAmount } from './payment-amount.js'
import type { PaymentOutcome, SettlementVerifier } from './payment-charge.js'
import { attempt, paymentCharge, paymentOutcome, verifiedAmount } from './payment-charge.js'
import {
  PaymentOutcomeUnknownError,
  PaymentRefusedError,
  paymentRefusal,
} from './payment-errors.js'

/** Grace on top of the authorisation's validity, for clock skew between us and the chain. */
const VALIDITY_GRACE_MS = 60_000

export interface PaymentSettings {
  guard: AgentGuard
  scope: BudgetScope
  /** The fetch's `allowedPayees`/`maxPaymentUsd`: the core checks them with the agent's. */
  rules: SpendRules
  assets: readonly PaymentAsset[] | undefined
  verifySettlement: SettlementVerifier | undefined
  transport: typeof fetch
}

interface Payment {
  readonly ticket: SpendTicket
  readonly requirements: PaymentRequirements
  readonly amount: PaymentAmount
  readonly resource: string
  /** `held`: still in the process, releasable. `sent`: money. `done`: on the ledger. */
  state: 'held' | 'sent' | 'done'
  /** Once sent: the signed payload, and when it expires (ms since the epoch) if known. */
  payload?: PaymentPayload | undefined
  validUntil?: number | undefined
}

/** The current guarded fetch call, seen from the x402 hooks. */
export const paymentCalls = new AsyncLocalStorage<PaymentCall>()

export class PaymentCall {
  readonly #payments: Payment[] = []
  /** The typed error behind a vetoed payment: x402 reports it as a plain Error. */
  refusal: Error | undefined

  constructor(
    readonly settings: PaymentSettings,
    /** The HTTP method, for the audit description. */
    readonly method: string,
  ) {}

  /**
   * The veto, from `onBeforePaymentCreation` (the last step before signing): refuses the
   * payment (revoked, a spend rule, the cap, an unpriceable asset) or holds its amount.
   */
  async authorise(context: PaymentCreationContext): Promise<void> {
    const { guard, scope, rules, assets } = this.settings
    const requirements = context.selectedRequirements
    const { payTo: payee, asset, network, scheme } = requirements
    const amount = paymentAmount(requirements, assets)
    const resource = resourceOf(context)
    // Carried into the settled and released entries too (the hold's details are merged).
    const details = { payee, asset, network, resource, scheme }
    const spend = { kind: 'payment', description: `${this.method} ${resource}`, payee, details }
    if (!amount) {
      // Revocation first: it is the answer that matters at 2 AM, whatever else is wrong.
      await guard.check()
      const refusal = new PaymentRefusedError({
        rule: 'unknown_asset',
        payee,
        message: `Payment to ${payee} refused: asset ${asset} on ${network} is not a known USD stablecoin, so it cannot be priced against the cap. If it is one, list it: killSwitchFetch({ assets: [{ network: '${network}', asset: '${asset}', decimals: 6 }] }).`,
      })
      await guard.refuseSpend({ ...spend, amountUsd: 0 }, refusal)
      throw refusal
    }
    const validityMs = requirements.maxTimeoutSeconds * 1000
    const ticket = await guard
      .reserveSpend({
        ...scope,
        ...spend,
        amountUsd: amount.usd,
        details: { ...details, amountAtomic: String(amount.atomic), amountUsd: amount.usd },
        rules,
        // A backstop only: every hold is settled or released explicitly when its call ends.
        ttlMs: validityMs > 0 ? validityMs + VALIDITY_GRACE_MS : undefined,
      })
      .catch((error: unknown) => {
        throw error instanceof SpendRefusedError ? paymentRefusal(error) : error
      })
    this.#payments.push({ ticket, requirements, amount, resource, state: 'held' })
  }

  /**
   * The transport under x402: a paid request is charged by its answer before the answer is
   * handed back. A payment header the kill switch did not authorise is not sent.
   */
  transport: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const { transport } = this.settings
    const header = request.headers.get('PAYMENT-SIGNATURE') ?? request.headers.get('X-PAYMENT')
    if (header === null) return transport(request)
    const payment = this.#unsent()
    const message =
      'A payment header the kill switch did not authorise: not sent (pay through killSwitchFetch).'
    if (!payment) throw new PaymentRefusedError({ rule: 'unaccounted_payment', message })
    // Aborted before it left (revoked, or the caller gave up): the signature never left
    // the process, so the payment stays unsent and its hold is released.
    request.signal.throwIfAborted()
    // What was signed (a settlement verifier needs it) and until when it can be collected:
    // EIP-3009's `validBefore` (seconds), else the route's `maxTimeoutSeconds` from now.
    payment.payload = attempt(() => decodePaymentSignatureHeader(header))
    const inner = payment.payload?.payload as { authorization?: { validBefore?: unknown } }
    const before = inner?.authorization?.validBefore
    const validityMs = payment.requirements.maxTimeoutSeconds * 1000
    const signedUntil = /^\d{1,12}$/.test(String(before)) ? Number(before) * 1000 : undefined
    const until = signedUntil ?? (validityMs > 0 ? Date.now() + validityMs : undefined)
    payment.validUntil = until
    // Past the authorisation's expiry an answer can change nothing (the payment is charged
    // either way), so a payee that never answers does not keep the call open for ever.
    const expiry =
      until === undefined ? [] : [AbortSignal.timeout(Math.max(until - Date.now(), 1_000))]
    const signal = AbortSignal.any([request.signal, ...expiry])
    payment.state = 'sent'
    let response: Response
    try {
      response = await transport(new Request(request, { signal }))
    } catch (error) {
      // The signed authorisation may have reached the payee: it can collect it.
      await this.#charge(payment, { reason: 'no_response' })
      const { resource, amount, requirements } = payment
      const details = { payee: requirements.payTo, amountUsd: amount.usd, resource }
      const validUntil = until ?? Date.now()
      throw new PaymentOutcomeUnknownError({ ...details, validUntil }, { cause: error })
    }
    await this.#charge(
      payment,
      paymentOutcome(response.status, (name) => response.headers.get(name)),
    )
    return response
  }

  /**
   * Ends the call: a payment never sent is released, one sent and not charged yet (the
   * transport leaves none) is charged in full. A failed write here is not retried: the hold
   * then lapses at its TTL, charged.
   */
  async finish(error: unknown): Promise<void> {
    for (const payment of this.#payments) {
      if (payment.state === 'sent') {
        await this.#charge(payment, { reason: 'no_response' }).catch(() => undefined)
      } else if (payment.state === 'held') {
        payment.state = 'done'
        const message = error instanceof Error ? error.message : null
        const details = { paymentOutcome: 'not_sent', error: message }
        await this.settings.guard
          .releaseSpend(payment.ticket, { reason: 'not_sent', details })
          .catch(() => undefined)
      }
    }
  }

  /** The payment about to be sent: the latest one, while it is held. */
  #unsent(): Payment | undefined {
    const last = this.#payments.at(-1)
    return last?.state === 'held' ? last : undefined
  }

  /** Settles a sent payment at what the payee can collect (`paymentCharge`), never less. */
  async #charge(payment: Payment, outcome: PaymentOutcome): Promise<void> {
    if (payment.state === 'done') return
    payment.state = 'done'
    const { scheme, network, asset, payTo } = payment.requirements
    const { verifySettlement, guard } = this.settings
    const { atomic, decimals } = payment.amount
    const { payload } = payment
    // Only a claimed settlement of a scheme that may charge less is worth proving.
    const verified =
      verifySettlement && payload && outcome.reason === 'settled' && scheme !== 'exact'
        ? await verifiedAmount(verifySettlement, {
            ...{ scheme, network, asset, payTo, authorisedAtomic: atomic, paymentPayload: payload },
            ...{ transaction: outcome.transaction, claimedAtomic: outcome.claimedAtomic },
          })
        : {}
    const charge = paymentCharge({ scheme, network, atomic }, outcome, verified)
    await guard.settleSpend(payment.ticket, {
      amountUsd: atomicToMicros(charge.atomic, decimals) / 1_000_000,
      // Until then the payee can still submit the authorisation on chain.
      details: {
        ...charge.details,
        validUntil: new Date(payment.validUntil ?? Date.now()).toISOString(),
      },
    })
  }
}

/** The paid resource's URL without its query string (queries carry the agent's data). */
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
