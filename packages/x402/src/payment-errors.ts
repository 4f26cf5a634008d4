// The errors x402 payments add to the core's.
import { KillSwitchError, type SpendRefusedError } from '@killswitch/core'

/** Which rule refused a payment. */
export type PaymentRule = SpendRule | 'unknown_asset' | 'unaccounted_payment'
type SpendRule = 'payee_not_allowed' | 'max_payment_exceeded'

/**
 * A payment refused before anything was signed: a payee not allowed or an amount over the
 * maximum (`source`: the agent's `spendRules` or this fetch's options; `cause`: the core's
 * SpendRefusedError), an asset it cannot price, or a payment header it did not authorise.
 *
 * @example
 * if (error instanceof PaymentRefusedError) console.log(error.rule, error.source, error.payee)
 */
export class PaymentRefusedError extends KillSwitchError {
  readonly source: 'agent' | 'call' | undefined
  readonly payee: string | undefined
  readonly amountUsd: number | undefined

  constructor(
    readonly rule: PaymentRule,
    message: string,
    of: { source?: 'agent' | 'call'; payee?: string | undefined; amountUsd?: number } = {},
    options?: ErrorOptions,
  ) {
    super('payment_refused', 403, message, options)
    this.name = 'PaymentRefusedError'
    ;({ source: this.source, payee: this.payee, amountUsd: this.amountUsd } = of)
  }

  /** The core's refusal by a spend rule, in the names of this fetch's options. */
  static fromSpendRule(error: SpendRefusedError): PaymentRefusedError {
    const byPayee = error.rule === 'payee_not_allowed'
    const why = byPayee ? 'the payee is not in allowedPayees' : 'it exceeds maxPaymentUsd'
    const own = `Payment of $${error.amountUsd} to ${error.payee} refused: ${why}.`
    const message = error.source === 'agent' ? error.message : own
    const rule = byPayee ? 'payee_not_allowed' : 'max_payment_exceeded'
    return new PaymentRefusedError(rule, message, error, { cause: error })
  }
}

/**
 * A signed payment went out and no answer came back (dropped, aborted, or none before it
 * expired). The payee can collect it until `validUntil` (ms since the epoch), so it was
 * charged in full. `cause`: the network error, or the kill switch error that aborted it.
 *
 * @example
 * if (error instanceof PaymentOutcomeUnknownError) console.log(error.amountUsd, new Date(error.validUntil))
 */
export class PaymentOutcomeUnknownError extends Error {
  readonly code = 'payment_outcome_unknown'

  constructor(
    readonly payee: string,
    readonly amountUsd: number,
    readonly resource: string,
    readonly validUntil: number,
    options?: ErrorOptions,
  ) {
    const until = new Date(validUntil).toISOString()
    super(
      `The payment of $${amountUsd} to ${payee} for ${resource} was sent, but no response came back. The payee can still collect it, so it is charged in full to the agent's cap; the authorisation is valid until ${until}.`,
      options,
    )
    this.name = 'PaymentOutcomeUnknownError'
  }
}
