// The errors x402 payments add to the core's. A spend rule (payee allowlist, most per
// payment) refuses with the core's SpendRefusedError, as for any other spend.
import { KillSwitchError } from '@killswitch/core'

/**
 * Why a payment was refused: its scheme, asset or amount cannot be priced; its payee, asset
 * or validity is malformed; or the header about to be sent was not held (or authorises more
 * than was held).
 */
export type PaymentRule =
  | 'unknown_scheme'
  | 'unknown_asset'
  | 'bad_amount'
  | 'bad_payee'
  | 'bad_asset'
  | 'bad_timeout'
  | 'unaccounted_payment'

/**
 * A payment refused before anything was sent because it cannot be put on the ledger: a
 * scheme other than `exact` or `upto`, an asset that is not a known USD stablecoin, an amount
 * that is not atomic units or more than any cap, a payee or asset that is no address, a
 * validity that is not 1 s to a day (`maxTimeoutSeconds`, or what was signed), or a payment
 * header the kill switch did not hold for that much.
 *
 * @example
 * if (error instanceof PaymentRefusedError) console.log(error.rule, error.payee)
 */
export class PaymentRefusedError extends KillSwitchError {
  constructor(
    readonly rule: PaymentRule,
    message: string,
    readonly payee?: string,
  ) {
    super('payment_refused', 403, message)
    this.name = 'PaymentRefusedError'
  }
}

/**
 * A signed payment went out and no answer came back (dropped, aborted, or none before it
 * expired). The payee can collect it until `validUntil` (ms since the epoch), so it was
 * charged in full. `cause`: the network error, or the kill switch error that aborted it.
 *
 * @example
 * if (error instanceof PaymentOutcomeUnknownError) console.log(error.amountUsd, error.validUntil)
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
    const message = `The payment of $${amountUsd} to ${payee} for ${resource} was sent, but no response came back. The payee can still collect it, so it is charged in full to the agent's cap; the authorisation is valid until ${until}.`
    super(message, options)
    this.name = 'PaymentOutcomeUnknownError'
  }
}
