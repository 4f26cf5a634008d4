// What a payee's 402 says that the ledger records or relies on, checked before anything is
// held: whom to pay, in what, for how long, how much. A payee writes what it likes there;
// what cannot be recorded exactly, or that the core would take for the caller's config error,
// is refused as a payment (audited `denied`), before anything is signed.
import { MAX_CAP_USD } from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { boundedText, shownText, shownValue, TEXT_MAX } from './bounded-text.js'
import {
  type PaymentAmount,
  type PaymentAsset,
  paymentAmount,
  unpricedPayment,
} from './payment-amount.js'
import { PaymentRefusedError } from './payment-errors.js'
import { MAX_VALIDITY_SECONDS } from './payment-validity.js'

// An address on the chains x402 pays on (EVM hex, Solana base58...): printable, no spaces.
// The payee is held as given, since the spend rules compare it: never cut to fit the log, so
// one longer than the log keeps is refused.
const ADDRESS = new RegExp(`^[\\x21-\\x7e]{1,${TEXT_MAX}}$`)
const isAddress = (value: unknown) => typeof value === 'string' && ADDRESS.test(value)

/** A payment's price, or why it is refused (with its price, when it has one). */
type PricedClaim =
  | { amount: PaymentAmount; refusal?: undefined }
  | { amount?: PaymentAmount; refusal: PaymentRefusedError }

/**
 * The requirements priced (`paymentAmount`), or why they are refused before anything is held:
 * a payee or asset that is not an address, a `maxTimeoutSeconds` that is not whole seconds
 * from 1 to `MAX_VALIDITY_SECONDS`, what cannot be priced (`unpricedPayment`), or, with its
 * `amount`, more than the core holds for any spend (`MAX_CAP_USD`).
 */
export function pricedClaim(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[],
  x402Version: number,
): PricedClaim {
  // Before pricing: pricing reads the asset, and the hold the payee and the validity.
  const bad = badClaim(requirements)
  if (bad) return { refusal: bad }
  const amount = paymentAmount(requirements, assets, x402Version)
  if (!amount) return { refusal: unpricedPayment(requirements, assets, x402Version) }
  if (amount.usd <= MAX_CAP_USD) return { amount }
  const { payTo } = requirements
  const atomic = boundedText(String(amount.atomic), 40)
  const why = `Payment to ${payTo} refused: its amount (${atomic} atomic units) is more than $${MAX_CAP_USD}, the most the kill switch can hold for one spend. No cap allows it.`
  return { amount, refusal: new PaymentRefusedError('bad_amount', why, payTo) }
}

function badClaim(requirements: PaymentRequirements): PaymentRefusedError | undefined {
  const { payTo, asset, maxTimeoutSeconds: timeout } = requirements
  const payee = shownText(payTo)
  if (!isAddress(payTo)) {
    const why = `Payment refused: its payee (payTo ${shownValue(payTo)}) is not an address (printable, no spaces, at most ${TEXT_MAX} characters), so it cannot be checked against the allowed payees or recorded. The payee's 402 is malformed: ask it for its address.`
    return new PaymentRefusedError('bad_payee', why, payee)
  }
  if (!isAddress(asset)) {
    const why = `Payment to ${payee} refused: its asset (${shownValue(asset)}) is not a token address, so it cannot be priced against the cap. The payee's 402 is malformed: ask it for the token's address.`
    return new PaymentRefusedError('bad_asset', why, payee)
  }
  if (!(Number.isSafeInteger(timeout) && timeout >= 1 && timeout <= MAX_VALIDITY_SECONDS)) {
    const why = `Payment to ${payee} refused: its maxTimeoutSeconds (${shownValue(timeout)}) is not a whole number of seconds from 1 to ${MAX_VALIDITY_SECONDS} (a day), so until when it could collect the signed authorisation is not known. Ask the payee for a validity within a day (x402's default is 300).`
    return new PaymentRefusedError('bad_timeout', why, payee)
  }
  return undefined
}
