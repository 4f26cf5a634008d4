// The output limit a bag of API fields sets in the providers' wire formats, read and clamped
// by one rule: OpenAI chat's `max_tokens` and `max_completion_tokens`, Responses'
// `max_output_tokens`, Anthropic's `max_tokens` with its `thinking.budget_tokens` (counted in
// it). An adapter whose framework passes such fields through (LangChain's `modelKwargs`) reads
// the largest limit they set, whichever spelling the provider obeys, and clamps them all.

type Fields = Record<string, unknown>

/** Every spelling of the output limit in the wire formats. */
export const LIMIT_KEYS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const

/**
 * The largest of the values that are counts (of tokens, of choices: positive, rounded up to
 * whole ones); undefined when none is: anything else sets no limit.
 *
 * @example
 * largestCount(undefined, 100.5, -1, 'a') // 101
 */
export function largestCount(...values: unknown[]): number | undefined {
  let largest: number | undefined
  for (const value of values) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) continue
    largest = Math.max(largest ?? 0, Math.ceil(value))
  }
  return largest
}

/**
 * The largest output limit `fields` set by any spelling; undefined when they set none.
 *
 * @example
 * wireOutputLimit({ max_tokens: 100, max_completion_tokens: 300 }) // 300
 */
export function wireOutputLimit(fields: unknown): number | undefined {
  const bag = typeof fields === 'object' && fields !== null ? (fields as Fields) : {}
  return largestCount(...LIMIT_KEYS.map((key) => bag[key]))
}

/**
 * The most output tokens `fields` ask for: their limit for each of their `n` choices (each
 * choice may use the whole limit, and the provider bills them all); undefined when they set
 * no limit.
 *
 * @example
 * requestedOutputTokensIn({ max_tokens: 100, n: 3 }) // 300
 */
export function requestedOutputTokensIn(fields: unknown): number | undefined {
  const limit = wireOutputLimit(fields)
  if (limit === undefined) return undefined
  return limit * (largestCount((fields as Fields).n) ?? 1)
}

/**
 * Anthropic's `thinking` setting with its `budget_tokens` below `max` (the API requires
 * budget_tokens < max_tokens, thinking counted in max_tokens); as it is when already below.
 *
 * @example
 * thinkingBelow({ type: 'enabled', budget_tokens: 4000 }, 1000)
 * // { type: 'enabled', budget_tokens: 999 }
 */
export function thinkingBelow<T>(thinking: T, max: number): T {
  const budget = (thinking as Fields | null | undefined)?.budget_tokens
  return typeof budget === 'number' && budget >= max
    ? ({ ...thinking, budget_tokens: Math.max(1, max - 1) } as T)
    : thinking
}

/**
 * `fields` asking for at most `max` output tokens: each limit above it lowered to it, and a
 * thinking budget below it. A new object (the caller's is not changed); not an object: as it is.
 *
 * @example
 * clampWireOutputLimit({ max_tokens: 8000, thinking: { budget_tokens: 4000 } }, 1000)
 * // { max_tokens: 1000, thinking: { budget_tokens: 999 } }
 */
export function clampWireOutputLimit<T>(fields: T, max: number): T {
  if (typeof fields !== 'object' || fields === null) return fields
  const next: Fields = { ...(fields as Fields) }
  for (const key of LIMIT_KEYS) {
    const limit = next[key]
    if (typeof limit === 'number' && limit > max) next[key] = max
  }
  if (next.thinking !== undefined) next.thinking = thinkingBelow(next.thinking, max)
  return next as T
}
