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
  /**
   * Where the model prices media input (audio, images, video) above text: the highest such
   * rate, and its cached read. The usage frameworks report does not split input by
   * modality, so a call whose input carries media has all its input priced at it.
   */
  readonly mediaInput?: Rate
  readonly mediaCacheRead?: Rate
  /**
   * One-hour cache writes (Anthropic: 2x input, against 1.25x for five minutes): a call
   * that asks for a one-hour cache has every cache write priced at it.
   */
  readonly longCacheWrite?: Rate
  /**
   * The price data gives the model no output price (an embedding model): only a call that
   * produces no output (`ModelCallRequest.inputOnly`) may use it; any other is refused, as
   * for an unknown price (output is never priced at zero by omission).
   */
  readonly inputOnly?: true
  /**
   * The price data prices the model's media output (audio, images, video), or an override
   * gives its one output price: a call asking for media output (`ModelCallRequest.mediaOutput`)
   * to a model without it is refused, never priced at the text rate.
   */
  readonly mediaOutput?: true
}

/** What a request shows of a costlier input (`inputBound` finds it). */
export interface InputEvidence {
  /** A part that cannot be sized from the request: media, a file, server-side content. */
  readonly media: boolean
  /** A one-hour prompt cache was asked for (`ttl: '1h'`). */
  readonly longCache: boolean
  /**
   * Audio among the input (an audio part, an audio file, a previous answer's audio by id):
   * providers bill it at a rate of its own, many times the text rate (gpt-4o-audio-preview:
   * $40 against $2.50 per million), so a model without a media input rate cannot price it.
   */
  readonly audio?: boolean
  /**
   * The request turns reasoning on (`reasoning_effort`, `reasoning: { effort }`, Anthropic's
   * `thinking`): the model then bills reasoning it may not stream, whatever its name.
   */
  readonly reasons?: boolean
  /**
   * A tool the provider runs itself (web search, code execution, an MCP server, another
   * model as adviser), by its type, id or key: its uses are billed apart from the tokens.
   */
  readonly serverTool?: string
}

/**
 * The rates of one call: the model's, raised where its request shows a costlier input
 * (media parts, a one-hour cache). The same object when nothing is raised (most calls).
 */
export function ratesFor(rates: ModelRates, evidence: InputEvidence): ModelRates {
  const media =
    evidence.media && (rates.mediaInput !== undefined || rates.mediaCacheRead !== undefined)
  const long = evidence.longCache && rates.longCacheWrite !== undefined
  if (!media && !long) return rates
  return {
    ...rates,
    ...(media && {
      input: higher(rates.input, rates.mediaInput),
      cacheRead: higher(rates.cacheRead, rates.mediaCacheRead),
    }),
    ...(long && { cacheWrite: higher(rates.cacheWrite, rates.longCacheWrite) }),
  }
}

/** The rate that is at every input size the higher of `a` and `b`. */
export function higher(a: Rate, b: Rate | undefined): Rate {
  if (b === undefined) return a
  if (typeof a === 'number' && typeof b === 'number') return Math.max(a, b)
  const thresholds = [...new Set([...tiersOf(a), ...tiersOf(b)].map((tier) => tier.above))]
  thresholds.sort((x, y) => x - y)
  return {
    base: Math.max(rateAt(a, 0), rateAt(b, 0)),
    // rateAt applies a tier above its threshold: one token past it is the tier's rate.
    tiers: thresholds.map((above) => ({
      above,
      rate: Math.max(rateAt(a, above + 1), rateAt(b, above + 1)),
    })),
  }
}

const tiersOf = (rate: Rate) => (typeof rate === 'number' ? [] : rate.tiers)

/** The rate that applies to a call with `inputTokens` input tokens. */
export function rateAt(rate: Rate, inputTokens: number): number {
  if (typeof rate === 'number') return rate
  let current = rate.base
  for (const tier of rate.tiers) if (inputTokens > tier.above) current = tier.rate
  return current
}

/**
 * The highest rate a call can pay, for bounds: with `inputTokens` (the call's input bound),
 * the highest of the tiers an input of at most that many tokens can reach (a short prompt
 * never pays a long-context tier), else of them all.
 */
export function maxRate(rate: Rate, inputTokens = Number.POSITIVE_INFINITY): number {
  if (typeof rate === 'number') return rate
  let max = rate.base
  for (const tier of rate.tiers) if (inputTokens > tier.above && tier.rate > max) max = tier.rate
  return max
}

/** Dollars per million tokens to integer micro-dollars per million tokens. */
export function usdPerMTokToRate(usdPerMTok: number): number {
  return Math.round(usdPerMTok * 1_000_000)
}
