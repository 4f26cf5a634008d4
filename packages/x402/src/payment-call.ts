// One call of the guarded fetch and the payments made inside it. The x402 hooks and the
// inner fetch find it through AsyncLocalStorage: hooks are per x402Client, shared by every
// concurrent call, so the call state cannot live in their closures.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AgentGuard, SpendTicket } from '@killswitch/core'
import type { PaymentPayload } from '@x402/core/types'
import { atomicToMicros, type PaymentAmount, type PaymentAsset } from './payment-amount.js'
import { paymentCharge, type SettlementVerifier } from './payment-charge.js'
import type { PaymentOutcome } from './payment-outcome.js'
import type { PaymentRules } from './payment-rules.js'

/** A payment from its reservation to its charge. */
export interface PaymentRecord {
  readonly ticket: SpendTicket
  readonly amount: PaymentAmount
  readonly scheme: string
  readonly network: string
  readonly asset: string
  readonly payee: string
  /** The paid resource, without query string (queries can carry the agent's data). */
  readonly resource: string
  /** How long the signed authorisation is valid, from when it is signed. */
  readonly validityMs: number | undefined
  /** When the authorisation expires (ms since the epoch), set once it is signed. */
  validUntil: number | undefined
  /** The signed payload, once signed (a settlement verifier needs it). */
  payload: PaymentPayload | undefined
  /**
   * `reserved`/`signed`: still inside the process, so releasable. `sent`: the signature
   * left, so it is money. `charged`/`released`: on the ledger.
   */
  state: 'reserved' | 'signed' | 'sent' | 'charged' | 'released'
}

/** The options of `killSwitchFetch` a call needs. */
export interface CallRules extends PaymentRules {
  assets?: readonly PaymentAsset[]
  verifySettlement?: SettlementVerifier
}

/** What a call of the guarded fetch knows. */
export class PaymentCall {
  readonly payments: PaymentRecord[] = []
  /** The typed error behind a vetoed payment: x402 reports it as a plain Error. */
  refusal: Error | undefined

  constructor(
    readonly guard: AgentGuard,
    readonly rules: CallRules,
    /** The HTTP method, for the audit description. */
    readonly method: string,
  ) {}

  /** The payment about to be sent: the latest one not sent yet. */
  unsent(): PaymentRecord | undefined {
    const last = this.payments.at(-1)
    return last && (last.state === 'reserved' || last.state === 'signed') ? last : undefined
  }

  /**
   * Charges a sent payment: settles its hold at what the payee can collect (see
   * `paymentCharge`), whatever the response said. Never releases it.
   */
  async record(payment: PaymentRecord, outcome: PaymentOutcome): Promise<void> {
    if (payment.state === 'charged' || payment.state === 'released') return
    payment.state = 'charged'
    const verified = await this.verify(payment, outcome)
    const charge = paymentCharge(payment, outcome, verified.atomic)
    const validUntil = payment.validUntil ?? Date.now() + (payment.validityMs ?? 0)
    const details: Record<string, unknown> = {
      payee: payment.payee,
      resource: payment.resource,
      status: outcome.status ?? null,
      // Not `outcome`: the ledger writes its own under that name.
      paymentOutcome: charge.outcome,
      chargedAtomic: String(charge.atomic),
      basis: charge.basis,
      // Until then the payee can still submit the authorisation on chain.
      validUntil: new Date(validUntil).toISOString(),
    }
    if (outcome.type === 'unproven') {
      details.reason = outcome.reason
      if (outcome.errorReason !== undefined) details.errorReason = outcome.errorReason
    } else {
      details.transaction = outcome.transaction ?? null
      if (outcome.claimedAtomic !== undefined) details.claimedAtomic = String(outcome.claimedAtomic)
      if (outcome.claimedRaw !== undefined) details.claimedAmount = outcome.claimedRaw
    }
    if (verified.error !== undefined) details.verifyError = verified.error
    if (charge.suspicious !== undefined) details.suspicious = charge.suspicious
    await this.guard.settleSpend(payment.ticket, {
      amountUsd: atomicToMicros(charge.atomic, payment.amount.decimals) / 1_000_000,
      details,
    })
  }

  /**
   * Asks the configured `verifySettlement` what a settled non-`exact` payment really
   * moved. Its failure, or an answer that is not an amount, proves nothing.
   */
  private async verify(
    payment: PaymentRecord,
    outcome: PaymentOutcome,
  ): Promise<{ atomic: bigint | undefined; error: string | undefined }> {
    const verifier = this.rules.verifySettlement
    if (!verifier || outcome.type !== 'settled' || payment.scheme === 'exact' || !payment.payload) {
      return { atomic: undefined, error: undefined }
    }
    try {
      const atomic = await verifier({
        scheme: payment.scheme,
        network: payment.network,
        asset: payment.asset,
        payTo: payment.payee,
        transaction: outcome.transaction,
        claimedAtomic: outcome.claimedAtomic,
        authorisedAtomic: payment.amount.atomic,
        paymentPayload: payment.payload,
      })
      if (atomic === undefined) return { atomic: undefined, error: undefined }
      if (typeof atomic !== 'bigint' || atomic < 0n) {
        return { atomic: undefined, error: 'verifySettlement returned no bigint amount >= 0' }
      }
      return { atomic, error: undefined }
    } catch (error) {
      return {
        atomic: undefined,
        error: (error instanceof Error ? error.message : String(error)).slice(0, 200),
      }
    }
  }

  /** Releases a payment whose signature never left the process. */
  async release(
    payment: PaymentRecord,
    outcome: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    payment.state = 'released'
    await this.guard.releaseSpend(payment.ticket, {
      reason: outcome,
      details: {
        payee: payment.payee,
        resource: payment.resource,
        paymentOutcome: outcome,
        ...details,
      },
    })
  }

  /**
   * Ends the call. A payment reserved or signed but never sent cannot be collected (the
   * signature never left the process), so its hold is released. One sent but not charged
   * yet (which the inner fetch should never leave behind) is charged in full. A ledger
   * write that fails here (the store is down) is not retried: the hold then stays until
   * the ledger resolves it at its TTL.
   */
  async finish(error: unknown): Promise<void> {
    for (const payment of this.payments) {
      if (payment.state === 'sent') {
        await this.record(payment, {
          type: 'unproven',
          reason: 'no_response',
          status: undefined,
          errorReason: undefined,
        }).catch(() => undefined)
      } else if (payment.state === 'reserved' || payment.state === 'signed') {
        await this.release(payment, 'not_sent', {
          error: error instanceof Error ? error.message : null,
        }).catch(() => undefined)
      }
    }
  }
}

/** The current guarded fetch call, seen from the x402 hooks and the inner fetch. */
export const paymentCalls = new AsyncLocalStorage<PaymentCall>()
