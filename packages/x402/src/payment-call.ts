// One call of the guarded fetch and the payments made inside it. The x402 hooks and the
// inner fetch find it through AsyncLocalStorage: hooks are per x402Client, shared by every
// concurrent call, so the call state cannot live in their closures.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AgentGuard, SpendTicket } from '@killswitch/core'
import { atomicToMicros, type PaymentAmount, type PaymentAsset } from './payment-amount.js'
import type { PaymentOutcome } from './payment-outcome.js'
import type { PaymentRules } from './payment-rules.js'

/** A payment from its reservation to its outcome. */
export interface PaymentRecord {
  readonly ticket: SpendTicket
  readonly amount: PaymentAmount
  readonly payee: string
  /** The paid resource, without query string (queries can carry the agent's data). */
  readonly resource: string
  /** When the authorisation expires: an unknown outcome stays held until then. */
  readonly holdUntil: number
  state: 'reserved' | 'signed' | 'sent' | 'settled' | 'released' | 'unknown'
}

/** What a call of the guarded fetch knows. */
export class PaymentCall {
  readonly payments: PaymentRecord[] = []
  /** The typed error behind a vetoed payment: x402 reports it as a plain Error. */
  refusal: Error | undefined

  constructor(
    readonly guard: AgentGuard,
    readonly rules: PaymentRules & { assets?: readonly PaymentAsset[] },
    /** The HTTP method, for the audit description. */
    readonly method: string,
  ) {}

  /** The payment about to be sent: the latest one not sent yet. */
  unsent(): PaymentRecord | undefined {
    const last = this.payments.at(-1)
    return last && (last.state === 'reserved' || last.state === 'signed') ? last : undefined
  }

  /** Puts a sent payment's outcome on the ledger. */
  async record(payment: PaymentRecord, outcome: PaymentOutcome): Promise<void> {
    const base = { payee: payment.payee, resource: payment.resource, status: outcome.status }
    if (outcome.type === 'settled') {
      payment.state = 'settled'
      // An `upto` payment charges at most its maximum; a larger claim cannot be collected.
      const atomic = bigMin(outcome.settledAtomic ?? payment.amount.atomic, payment.amount.atomic)
      await this.guard.settleSpend(payment.ticket, {
        amountUsd: atomicToMicros(atomic, payment.amount.decimals) / 1_000_000,
        details: {
          ...base,
          outcome: 'settled',
          settledAtomic: String(atomic),
          transaction: outcome.transaction ?? null,
        },
      })
    } else if (outcome.type === 'failed') {
      await this.release(payment, outcome.reason, {
        ...base,
        errorReason: outcome.errorReason ?? null,
      })
    } else {
      // Unknown: the hold is neither settled nor released, so it lapses when the
      // authorisation expires (its TTL), and until then the cap counts it.
      payment.state = 'unknown'
      await this.guard.markSpendUnknown(payment.ticket, {
        holdUntil: payment.holdUntil,
        reason: outcome.reason,
        details: base,
      })
    }
  }

  /** Releases a payment that was not paid. */
  async release(
    payment: PaymentRecord,
    outcome: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    payment.state = 'released'
    await this.guard.releaseSpend(payment.ticket, {
      reason: outcome,
      details: { payee: payment.payee, resource: payment.resource, outcome, ...details },
    })
  }

  /**
   * Ends the call: a payment reserved or signed but never sent cannot be collected (the
   * signature never left the process), so its hold is released. A release that fails (the
   * store is down) is not retried: the hold then lapses at its TTL, which over-counts the
   * spend for a while but never under-counts it.
   */
  async finish(error: unknown): Promise<void> {
    for (const payment of this.payments) {
      if (payment.state !== 'reserved' && payment.state !== 'signed') continue
      await this.release(payment, 'not_sent', {
        error: error instanceof Error ? error.message : null,
      }).catch(() => undefined)
    }
  }
}

/** The current guarded fetch call, seen from the x402 hooks and the inner fetch. */
export const paymentCalls = new AsyncLocalStorage<PaymentCall>()

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
