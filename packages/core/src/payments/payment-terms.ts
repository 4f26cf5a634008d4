// What a payee asks to be paid, checked before anything is held or signed: whom to pay, in
// what, for how long, how much. A payee writes what it likes in its payment request (x402's
// 402); what the ledger cannot record exactly, or that the core would take for the caller's
// config error, is refused as a payment (`PaymentRefusedError`, by the rule returned here).

import { MAX_CAP_USD, toUsd } from '../money.js'
import { TEXT_MAX } from '../untrusted-text.js'
import { atomicToMicros, parseAtomic } from './atomic-amount.js'
import type { PaymentRule } from './payment-refused-error.js'
import { MAX_VALIDITY_SECONDS } from './signed-payment.js'

/** A payment's amount in atomic units (`upto`: its maximum), micro-dollars and dollars. */
export type PaymentAmount = { atomic: bigint; decimals: number; micros: number; usd: number }

/** A payment's amount, or the rule it breaks (with its amount, when it has one: over any cap). */
export type PaymentPrice =
  | { amount: PaymentAmount; rule?: 'bad_amount' }
  | { amount?: undefined; rule: PaymentRule }

// An address on the chains payments go on (EVM hex, Solana base58...): printable, no spaces.
// The payee is held as given, since the spend rules compare it: never cut to fit the log, so
// one longer than the log keeps is refused.
const ADDRESS = new RegExp(`^[\\x21-\\x7e]{1,${TEXT_MAX}}$`)
const isAddress = (value: unknown) => typeof value === 'string' && ADDRESS.test(value)

/**
 * The schemes whose signature authorises the amount the payee names: `exact` that amount,
 * `upto` at most it. Another scheme may sign something else (a deposit of several payments,
 * say), which the named amount would understate: it is refused, never guessed.
 */
const PRICED_SCHEMES: ReadonlySet<unknown> = new Set(['exact', 'upto'])

/**
 * The rule a payee's terms break before they can even be priced, or undefined: a `payee` or
 * token `asset` that is not an address, a `validitySeconds` that is not whole seconds from 1
 * to `MAX_VALIDITY_SECONDS`.
 *
 * @example
 * paymentTermsRule({ payee: '0xabc', asset: '0xdef', validitySeconds: 300 }) // undefined
 */
export function paymentTermsRule(terms: {
  payee: unknown
  asset: unknown
  validitySeconds: unknown
}): PaymentRule | undefined {
  const { payee, asset, validitySeconds: seconds } = terms
  if (!isAddress(payee)) return 'bad_payee'
  if (!isAddress(asset)) return 'bad_asset'
  const whole = Number.isSafeInteger(seconds) && Number(seconds) >= 1
  return whole && Number(seconds) <= MAX_VALIDITY_SECONDS ? undefined : 'bad_timeout'
}

/**
 * What a payment costs: `atomic` (a string of digits) of a USD-pegged token with `decimals`
 * (undefined: not a known one), in a `scheme` that signs that amount. Else the rule it breaks
 * (refused, never free): `unknown_scheme`, `unknown_asset`, `bad_amount`; also `bad_amount`,
 * with the amount, for more than `MAX_CAP_USD`, the most the core holds for any spend.
 *
 * @example
 * paymentPrice('exact', '10000', 6) // { amount: { atomic: 10000n, decimals: 6, micros: 10000, usd: 0.01 } }
 */
export function paymentPrice(
  scheme: unknown,
  atomic: unknown,
  decimals: number | undefined,
): PaymentPrice {
  if (!PRICED_SCHEMES.has(scheme)) return { rule: 'unknown_scheme' }
  if (decimals === undefined) return { rule: 'unknown_asset' }
  const units = parseAtomic(atomic)
  if (units === undefined) return { rule: 'bad_amount' }
  const micros = atomicToMicros(units, decimals)
  const amount = { atomic: units, decimals, micros, usd: toUsd(micros) }
  return amount.usd <= MAX_CAP_USD ? { amount } : { amount, rule: 'bad_amount' }
}
