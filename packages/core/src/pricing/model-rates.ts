// A model's prices as the ledger uses them: integer micro-dollars per million tokens, with
// every sub-count's fallback already resolved (a cache read or reasoning token without a
// price of its own costs its parent's rate, never zero).

/** A rate in micro-dollars per million tokens, optionally tiered by the call's input tokens. */
export type Rate = number | { base: number; tiers: ReadonlyArray<{ above: number; rate: number }> }

export interface ModelRates {
  /** The id the price was found under, for audit entries. */
  readonly priceId: string
  readonly input: Rate
  readonly cacheRead: Rate
  readonly cacheWrite: Rate
  readonly output: Rate
  readonly reasoning: Rate
  /** A fixed price per request, in micro-dollars. */
  readonly perRequestMicros: number
  /**
   * The model's context window in tokens, when the price data or an override says: it
   * bounds the input parts that cannot be sized from the request (a file by URL).
   */
  readonly contextWindow?: number
}

/** The rate that applies to a call with `inputTokens` input tokens. */
export function rateAt(rate: Rate, inputTokens: number): number {
  if (typeof rate === 'number') return rate
  let current = rate.base
  for (const tier of rate.tiers) if (inputTokens > tier.above) current = tier.rate
  return current
}

/** The highest rate a call can pay, for bounds. */
export function maxRate(rate: Rate): number {
  if (typeof rate === 'number') return rate
  return Math.max(rate.base, ...rate.tiers.map((tier) => tier.rate))
}

/** Dollars per million tokens to integer micro-dollars per million tokens. */
export function usdPerMTokToRate(usdPerMTok: number): number {
  return Math.round(usdPerMTok * 1_000_000)
}
