import { KillSwitchError } from '@killswitch/core'

/**
 * Which of `killSwitchFetch`'s payment rules refused a payment.
 *
 * @example
 * if (error instanceof PaymentRefusedError && error.rule === 'payee_not_allowed') alert(error.payee)
 */
export type PaymentRule =
  | 'unknown_asset'
  | 'payee_not_allowed'
  | 'max_payment_exceeded'
  | 'unaccounted_payment'

/**
 * A payment was refused by one of `killSwitchFetch`'s payment rules (payee allowlist,
 * per-payment maximum, unknown asset) before anything was signed. Revocation and the cap
 * refuse with the core's own errors (`AgentRevokedError`, `SpendingCapExceededError`).
 *
 * @example
 * try { await pay(url) } catch (error) {
 *   if (error instanceof PaymentRefusedError) console.log(error.rule, error.payee)
 * }
 */
export class PaymentRefusedError extends KillSwitchError {
  readonly rule: PaymentRule
  /** Who would have been paid. */
  readonly payee: string | undefined
  /** What the payment asked for, in dollars, when it could be priced. */
  readonly amountUsd: number | undefined

  constructor(details: {
    rule: PaymentRule
    message: string
    payee?: string
    amountUsd?: number
  }) {
    super('payment_refused', 403, details.message)
    this.name = 'PaymentRefusedError'
    this.rule = details.rule
    this.payee = details.payee
    this.amountUsd = details.amountUsd
  }
}
