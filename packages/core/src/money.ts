// Money is integer micro-dollars inside the engine (1 USD = 1,000,000) and dollars at the
// public API. Floats are converted once at the edge and never added.

/**
 * Micro-dollars in one dollar.
 *
 * @example
 * const dollars = micros / MICROS_PER_USD
 */
export const MICROS_PER_USD = 1_000_000

/**
 * The largest spending cap accepted, in dollars: anything above is a typo, not a budget.
 *
 * @example
 * ks.agents.create({ handle: 'a', spendingCap: MAX_CAP_USD + 1 }) // InvalidConfigError
 */
export const MAX_CAP_USD = 1_000_000_000

/**
 * A charge in dollars as micro-dollars, rounded up: the ledger never records less than was
 * paid (a $0.0000004 spend is 1 micro-dollar, not 0). The float noise of dollar arithmetic
 * (0.1 + 0.2) is not rounded up into one more micro-dollar.
 *
 * @example
 * chargeMicros(0.0000014) // 2
 * chargeMicros(0.1 + 0.2) // 300_000
 */
export function chargeMicros(usd: number): number {
  const micros = usd * MICROS_PER_USD
  // The noise of a float product grows with it: allowed for relatively (far below any real
  // fraction of a micro-dollar a float of that size can hold), and never half a micro-dollar
  // or more: past about $50M a relative allowance alone rounded a payment's last micro-dollars
  // down (red team rt29: 420,664,016.117807 recorded as ...117803). Not -0 for $0.
  return Math.max(0, Math.ceil(micros - Math.min(0.5, Math.max(1e-6, micros * 1e-14))))
}

/**
 * Converts dollars to integer micro-dollars, rounding to the nearest micro-dollar.
 *
 * @example
 * toMicros(0.25) // 250_000
 */
export function toMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD)
}

/**
 * Converts integer micro-dollars to dollars for display and the public API.
 *
 * @example
 * toUsd(250_000) // 0.25
 */
export function toUsd(micros: number): number {
  return micros / MICROS_PER_USD
}

/**
 * `ceil(a * b / divisor)` for non-negative integers, exact even when `a * b` exceeds 2^53
 * (it falls back to BigInt then). Costs round up: the ledger never under-charges.
 *
 * @example
 * mulDivCeil(1_500, 2_500_000, 1_000_000) // 3_750: 1,500 tokens at $2.50 per million, in micro-dollars
 */
export function mulDivCeil(a: number, b: number, divisor: number): number {
  const product = a * b
  if (Number.isSafeInteger(product)) return Math.ceil(product / divisor)
  const big = BigInt(a) * BigInt(b)
  const d = BigInt(divisor)
  return Number((big + d - 1n) / d)
}
