// What a payee's 402 says that the ledger records or relies on, checked before anything is
// held: whom to pay, in what, for how long, how much. The core's `paymentTermsRule` and
// `paymentPrice` say which rule a claim breaks; this says so in x402's terms, with the fix.
// A refused claim is refused as a payment (audited `denied`), before anything is signed.
import {
  boundedText,
  MAX_CAP_USD,
  MAX_VALIDITY_SECONDS,
  type PaymentAmount,
  PaymentRefusedError,
  type PaymentRule,
  paymentTermsRule,
  quotedValue,
  shownText,
  TEXT_MAX,
} from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { type PaymentAsset, requirementsPrice, signedField } from './payment-amount.js'

/** A payment's price, or why it is refused (with its price, when it has one). */
type PricedClaim =
  | { amount: PaymentAmount; refusal?: undefined }
  | { amount?: PaymentAmount; refusal: PaymentRefusedError }

/**
 * The requirements priced (`paymentAmount`), or why they are refused before anything is held:
 * a payee or asset that is not an address, a `maxTimeoutSeconds` that is not whole seconds
 * from 1 to `MAX_VALIDITY_SECONDS`, what cannot be priced, or, with its `amount`, more than
 * the core holds for any spend (`MAX_CAP_USD`).
 */
export function pricedClaim(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[],
  x402Version: number,
): PricedClaim {
  const { payTo, asset, maxTimeoutSeconds: validitySeconds } = requirements
  // Before pricing: pricing reads the asset, and the hold the payee and the validity.
  const bad = paymentTermsRule({ payee: payTo, asset, validitySeconds })
  const price = bad ? { rule: bad } : requirementsPrice(requirements, assets, x402Version)
  if (price.rule === undefined) return { amount: price.amount }
  const why = refusalMessage(price.rule, requirements, x402Version, price.amount)
  return {
    amount: price.amount,
    refusal: new PaymentRefusedError(price.rule, why, shownText(payTo)),
  }
}

/** Why `rule` refuses the requirements, with the fix (also the audit log's denied entry). */
function refusalMessage(
  rule: PaymentRule,
  requirements: PaymentRequirements,
  x402Version: number,
  amount: PaymentAmount | undefined,
): string {
  const { scheme, payTo, asset, network, maxTimeoutSeconds: timeout } = requirements
  // The payee's own strings, bounded for the message.
  const [payee, shownAsset, shownNetwork] = [payTo, asset, network].map(shownText)
  switch (rule) {
    case 'bad_payee':
      return `Payment refused: its payee (payTo ${quotedValue(payTo)}) is not an address (printable, no spaces, at most ${TEXT_MAX} characters), so it cannot be checked against the allowed payees or recorded. The payee's 402 is malformed: ask it for its address.`
    case 'bad_asset':
      return `Payment to ${payee} refused: its asset (${quotedValue(asset)}) is not a token address, so it cannot be priced against the cap. The payee's 402 is malformed: ask it for the token's address.`
    case 'bad_timeout':
      return `Payment to ${payee} refused: its maxTimeoutSeconds (${quotedValue(timeout)}) is not a whole number of seconds from 1 to ${MAX_VALIDITY_SECONDS} (a day), so until when it could collect the signed authorisation is not known. Ask the payee for a validity within a day (x402's default is 300).`
    case 'unknown_scheme':
      return `Payment to ${payee} refused: its scheme ${quotedValue(scheme)} may sign more than the price it names, so it cannot be held against the cap. The kill switch pays the "exact" and "upto" schemes; ask the payee for one of them.`
    case 'unknown_asset':
      return `Payment to ${payee} refused: asset ${shownAsset} on ${shownNetwork} is not a known USD stablecoin, so it cannot be priced against the cap. If it is one, list it: killSwitchFetch({ assets: [{ network: '${shownNetwork}', asset: '${shownAsset}', decimals: 6 }] }).`
  }
  // `bad_amount`: priced over any cap, or not atomic units.
  if (amount) {
    const atomic = boundedText(String(amount.atomic), 40)
    return `Payment to ${payTo} refused: its amount (${atomic} atomic units) is more than $${MAX_CAP_USD}, the most the kill switch can hold for one spend. No cap allows it.`
  }
  const field = x402Version === 1 ? 'maxAmountRequired' : 'amount'
  return `Payment to ${payee} refused: its requirements' ${field} (${quotedValue(signedField(requirements, x402Version))}) is not an amount in atomic units (a string of digits), so it cannot be priced against the cap.`
}
