// The errors x402 payments add to the core's.
import { KillSwitchError, type SpendRefusedError } from '@killswitch/core'

/** Which rule refused a payment. */
export type PaymentRule =
  | 'unknown_asset'
  | 'payee_not_allowed'
  | 'max_payment_exceeded'
  | 'unaccounted_payment'

/**
 * A payment refused by a rule before anything was signed: a payee not allowed or an amount
 * over the maximum (`source`: the agent's `spendRules` or this fetch's options; `cause`: the
 * core's SpendRefusedError), an unpriceable asset, or a payment header it did not authorise.
 *
 * @example
 * if (error instanceof PaymentRefusedError) console.log(error.rule, error.source, error.payee)
 */
export class PaymentRefusedError extends KillSwitchError {
  declare readonly rule: PaymentRule
  declare readonly source: 'agent' | 'call' | undefined
  /** Who would have been paid. */
  declare readonly payee: string | undefined
  /** What the payment asked for, in dollars, when it could be priced. */
  declare readonly amountUsd: number | undefined

  constructor(
    details: {
      rule: PaymentRule
      message: string
      source?: 'agent' | 'call'
      payee?: string
      amountUsd?: number
    },
    options?: ErrorOptions,
  ) {
    const { message, ...fields } = details
    super('payment_refused', 403, message, options)
    this.name = 'PaymentRefusedError'
    Object.assign(this, { source: undefined, payee: undefined, amountUsd: undefined }, fields)
  }
}

/** The core's refusal by a spend rule, named as x402 names its options. */
export function paymentRefusal(error: SpendRefusedError): PaymentRefusedError {
  const { source, payee, amountUsd } = error
  const unlisted = error.rule === 'payee_not_allowed'
  const message =
    source === 'agent'
      ? error.message
      : `Payment of $${amountUsd} to ${payee} refused: ${unlisted ? 'the payee is not in allowedPayees' : 'it exceeds maxPaymentUsd'}.`
  const rule = unlisted ? 'payee_not_allowed' : 'max_payment_exceeded'
  return new PaymentRefusedError({ rule, message, source, payee, amountUsd }, { cause: error })
}

/**
 * A signed payment went out and no answer came back (dropped, aborted, or none before the
 * authorisation expired). The payee can submit it until `validUntil`, so it was charged in
 * full (`amountUsd`). The network error is the `cause`.
 *
 * @example
 * if (error instanceof PaymentOutcomeUnknownError) console.log(error.amountUsd, new Date(error.validUntil))
 */
export class PaymentOutcomeUnknownError extends Error {
  readonly code = 'payment_outcome_unknown'
  declare readonly payee: string
  declare readonly amountUsd: number
  declare readonly resource: string
  /** Milliseconds since the epoch. */
  declare readonly validUntil: number

  constructor(
    details: { payee: string; amountUsd: number; resource: string; validUntil: number },
    options?: ErrorOptions,
  ) {
    super(
      `The payment of $${details.amountUsd} to ${details.payee} for ${details.resource} was sent, ` +
        'but no response came back. The payee can still collect it, so it is charged in full ' +
        `to the agent's cap; the authorisation is valid until ${new Date(details.validUntil).toISOString()}.`,
      options,
    )
    this.name = 'PaymentOutcomeUnknownError'
    Object.assign(this, details)
  }
}
