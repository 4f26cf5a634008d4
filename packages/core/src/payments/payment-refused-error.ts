// The refusal of a payment that cannot be put on the ledger (errors.ts has its code,
// `payment_refused`). A spend rule (payee allowlist, most per payment) refuses with
// SpendRefusedError instead, as for any other spend.
import { KillSwitchError } from '../errors.js'

/**
 * Why a payment was refused: its scheme, asset or amount cannot be priced; its payee, asset
 * or validity is malformed; the header about to be sent was not held (or authorises more
 * than was held); or the adapter's payment library itself could not pay it (`unpayable`: no
 * scheme or network it can pay, an amount it cannot read), before anything was held.
 */
export type PaymentRule =
  | 'unknown_scheme'
  | 'unknown_asset'
  | 'bad_amount'
  | 'bad_payee'
  | 'bad_asset'
  | 'bad_timeout'
  | 'unaccounted_payment'
  | 'unpayable'

/**
 * A payment refused before anything was sent because it cannot be put on the ledger: a
 * scheme other than `exact` or `upto`, an asset that is not a known USD stablecoin, an amount
 * that is not atomic units or more than any cap, a payee or asset that is no address, a
 * validity that is not 1 s to a day (x402's `maxTimeoutSeconds`, or what was signed), or a
 * payment header the kill switch did not hold for that much.
 *
 * @example
 * if (error instanceof PaymentRefusedError) console.log(error.rule, error.payee)
 */
export class PaymentRefusedError extends KillSwitchError {
  readonly rule: PaymentRule
  readonly payee?: string

  constructor(rule: PaymentRule, message: string, payee?: string) {
    super('payment_refused', 403, message)
    this.name = 'PaymentRefusedError'
    this.rule = rule
    this.payee = payee
  }
}
