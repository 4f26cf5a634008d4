// Counting streamed output so that the mid-stream stop bounds the cost: the count is never
// below the tokens the provider bills for the text, whatever the script, so stopping once it
// passes the hold's output bound stops before the hold is spent past.
//
// Two counters:
// - a model whose tokenizer is known (OpenAI's o200k and cl100k families): a cheap upper
//   bound while far from the limit, the real tokenizer's count of each delta once near it. The
//   provider is told the hold's own max output tokens, and an honest stream is never cut.
// - any other model: its UTF-8 bytes, which no byte-level tokenizer's count exceeds, in any
//   script. An honest token carries up to about 5.3 bytes (English against cl100k), so the
//   hold covers UNKNOWN_TOKENIZER_HEADROOM times the max output tokens the provider is told:
//   an honest stream is not cut, a stream past its max is cut before the hold is spent past.
//   The surplus is released at settlement. A tokenizer much more efficient than cl100k on a
//   non-Latin script (o200k carries 10 bytes a token in Russian or Hindi) can see an honest
//   stream stopped before its max: the price of a bound that holds for every tokenizer.
import type { OutputDelta } from '../guard-types.js'
import { createTokenCounter, type TokenCounter, tokenizerOf } from './tokenizer.js'

/**
 * How many counted tokens the hold of a model without a known tokenizer covers per output
 * token the provider is told: the most UTF-8 bytes an honest token carries (cl100k runs
 * 5.3 bytes a token in English prose, under 5 in code, JSON and other scripts).
 */
export const UNKNOWN_TOKENIZER_HEADROOM = 6

/**
 * The most UTF-8 bytes of text an honest token carries on average, in any tokenizer and
 * script (o200k runs 10.8 in Russian, 11.9 at most in the red team's samples; long runs of
 * one character go further, hence the margin): a text has at least its bytes over this many
 * tokens. The floor of the usage a provider may report, input and output alike.
 */
export const DENSEST_TEXT_BYTES_PER_TOKEN = 16

/**
 * A count of the tokens in `text` that no byte-level tokenizer exceeds: its UTF-8 bytes (a
 * byte-level BPE token, or a SentencePiece piece with byte fallback, covers at least one).
 *
 * @example
 * conservativeTokens('hello') // 5
 * conservativeTokens('中文') // 6
 */
export function conservativeTokens(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

/** The output of one model call, counted as it streams. */
export interface OutputCount {
  /** Counted output tokens so far: never below what the provider bills for the text. */
  readonly tokens: number
  /** The count the hold pays for: the stream is stopped once `tokens` passes it. */
  readonly limit: number
  /** Output was produced that could not be counted (`OutputDelta.uncounted`). */
  readonly uncounted: boolean
  /** Adds a delta and returns the new count. */
  add(delta: OutputDelta): number
  /**
   * The count at its closest: with the model's tokenizer, when it has one, what streamed is
   * counted token by token (far from the limit it was only bounded, by its bytes). For an
   * ending whose output usage is not believed: it is what the call is charged for.
   */
  closest(): number
  /**
   * The least output an honest provider can report for what streamed: usage below it is
   * not believed (see call-ending.ts). With the model's tokenizer, 90% of the whole text's
   * count (one pass over what streamed), so a report just under the real count is caught.
   */
  floor(): number
}

/** How the output of a model is counted: its counter factory and the hold's headroom. */
export interface OutputCounting {
  /** Counted tokens the hold covers per output token the provider is told. */
  readonly headroom: number
  /** The model's tokenizer, when it is known: it judges the input a provider reports too. */
  readonly counter?: TokenCounter
  start(maxOutputTokens: number): OutputCount
  /**
   * The counting of a call the core cannot cut (`ModelCallRequest.fixedOutput`): the
   * provider holds itself to the limit it is sent, in its own tokens, so the hold is that
   * limit exactly. Output that streams all the same is counted against it, with the
   * model's tokenizer when it has one: without it, the callback handler's honest Russian
   * answers on gpt-4o were judged by their bytes and charged 6-12x their bill (red team r15).
   */
  readonly limited: OutputCounting
}

/**
 * A call the core cannot cut, for a model whose tokenizer is not known: counted
 * conservatively against the limit the provider is sent.
 */
export const PROVIDER_LIMITED: OutputCounting = {
  headroom: 1,
  start: (maxOutputTokens) => new Count(maxOutputTokens, undefined),
  get limited() {
    return PROVIDER_LIMITED
  },
}

const conservative: OutputCounting = {
  headroom: UNKNOWN_TOKENIZER_HEADROOM,
  start: (maxOutputTokens) => new Count(maxOutputTokens * UNKNOWN_TOKENIZER_HEADROOM, undefined),
  limited: PROVIDER_LIMITED,
}

/**
 * How to count a model's output: with its tokenizer when it is known and loads, else
 * conservatively. Resolves at once after the first call for an encoding.
 *
 * @example
 * const counting = await outputCounting('gpt-4o')
 * const count = counting.start(ticket.maxOutputTokens)
 */
export async function outputCounting(model: string): Promise<OutputCounting> {
  const known = knownCounting.get(model)
  if (known) return known
  const encoding = tokenizerOf(model)
  let counting = conservative
  if (encoding !== undefined) {
    const counter = await createTokenCounter(encoding)
    if (counter !== undefined) {
      // The provider is told the hold's own max: limited or not, the hold is that max.
      const tokenized: OutputCounting = {
        headroom: 1,
        counter,
        start: (maxOutputTokens) => new Count(maxOutputTokens, counter),
        get limited() {
          return tokenized
        },
      }
      counting = tokenized
    }
  }
  if (knownCounting.size < MODELS_KEPT) knownCounting.set(model, counting)
  return counting
}

/** How a model's output is counted, once known: no await on the guard's hot path. */
export function knownOutputCounting(model: string): OutputCounting | undefined {
  return knownCounting.get(model)
}

// Model ids come from callers: the cache is bounded (past it, the lookup runs each time).
const MODELS_KEPT = 1_000
const knownCounting = new Map<string, OutputCounting>()

class Count implements OutputCount {
  tokens = 0
  uncounted = false
  readonly limit: number
  readonly #counter: TokenCounter | undefined
  // The deltas, kept only when a tokenizer can count them: far from the limit the count is
  // their bytes, near it (`perDelta`) the tokenizer's, per delta; the floor counts them whole.
  readonly #text: string[] | undefined
  #perDelta = false
  #given = 0

  constructor(limit: number, counter: TokenCounter | undefined) {
    this.limit = limit
    this.#counter = counter
    this.#text = counter ? [] : undefined
  }

  add(delta: OutputDelta): number {
    if (delta.uncounted === true) this.uncounted = true
    const given = delta.tokens
    if (given !== undefined) {
      // A count from the adapter: believed only as a whole, finite, non-negative number.
      const tokens = Number.isFinite(given) && given > 0 ? Math.ceil(given) : 0
      this.tokens += tokens
      this.#given += tokens
    }
    const text = delta.text
    if (!text) return this.tokens
    this.#text?.push(text)
    const counter = this.#counter
    if (counter && this.#perDelta) {
      // Counted per delta, as the provider generated it: a provider's token re-read alone
      // is itself, whereas the whole text re-read can merge tokens it generated apart.
      this.tokens += Math.max(1, counter.count(text))
      return this.tokens
    }
    this.tokens += conservativeTokens(text)
    // Near the limit: the bound gives way to the tokenizer's count, once for the past
    // deltas, then per delta.
    if (this.tokens > this.limit) this.closest()
    return this.tokens
  }

  closest(): number {
    const counter = this.#counter
    const text = this.#text
    if (counter === undefined || text === undefined || this.#perDelta) return this.tokens
    let tokens = this.#given
    for (const past of text) tokens += Math.max(1, counter.count(past))
    this.#perDelta = true
    this.tokens = tokens
    return tokens
  }

  floor(): number {
    const counter = this.#counter
    if (counter === undefined || this.#text === undefined) {
      // Counted as bytes, for a tokenizer not known: an honest token carries at most 16
      // (the hold's headroom, 6, is what an honest stream in a Latin script needs; a dense
      // script carries more, and its honest usage, judged by 6, was charged its bytes:
      // 6-12x the bill for Russian or Hindi through Claude, red team r15).
      return Math.floor(this.tokens / DENSEST_TEXT_BYTES_PER_TOKEN)
    }
    // With the tokenizer: the whole text counted once (linear time: 2 ms for 8,000 tokens),
    // less 10% for tokens a provider generated apart that the whole text merges. A floor
    // from the bytes (bytes / 12: an honest o200k token carries up to 12 in Russian) or
    // from the pre-tokenizer's pieces (a run of emoji or Chinese is one piece) let a
    // provider report a fraction of what it streamed and be believed (red team r13, r14:
    // billed 1.6x to 76x the cap).
    return Math.floor((this.#given + counter.count(this.#text.join(''))) * 0.9)
  }
}
