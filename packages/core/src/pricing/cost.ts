// Turning tokens into micro-dollars, and the two numbers adapters need before a call: its
// cost bound and the largest max-output-tokens the budget can pay for. Integer arithmetic
// only; every rounding goes up (the ledger never under-charges).
import type { TokenUsage } from '../guard-types.js'
import { mulDivCeil } from '../money.js'
import { type ModelRates, maxRate, rateAt } from './model-rates.js'

const PER_MILLION = 1_000_000

/** Binary parts (images, files) count as this many input tokens in the bound. */
export const BINARY_PART_TOKENS = 4096

/**
 * An upper bound on the input tokens of a prompt: about its size as JSON in UTF-8 bytes
 * (every token of a byte-level tokenizer covers at least one byte), with binary parts
 * (images, files) counted as BINARY_PART_TOKENS each. Deliberately conservative: the hold
 * is released at settlement. A walk rather than JSON.stringify: no string is built, and a
 * Uint8Array is not serialised byte by byte.
 *
 * @example
 * inputTokenBound([{ role: 'user', content: 'hello' }]) // about the prompt's size as JSON
 */
export function inputTokenBound(input: unknown): number {
  return typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : jsonBytes(input, 0)
}

// Deeper than any real prompt; a cycle or a pathological value is bounded, not followed.
const MAX_DEPTH = 64

function jsonBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value, 'utf8') + 2
    case 'number':
    case 'bigint':
      return 24
    case 'boolean':
      return 5
    case 'object': {
      if (value === null) return 4
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return BINARY_PART_TOKENS
      if (depth >= MAX_DEPTH) return BINARY_PART_TOKENS
      // As JSON.stringify does: an object that says how it serialises (a framework's
      // message class, a Date, a URL) is sized as that, not as its internals.
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') return jsonBytes(toJSON.call(value), depth + 1)
      let bytes = 2
      if (Array.isArray(value)) {
        for (const item of value) bytes += jsonBytes(item, depth + 1) + 1
        return bytes
      }
      for (const key in value) {
        bytes +=
          Buffer.byteLength(key, 'utf8') +
          4 +
          jsonBytes((value as Record<string, unknown>)[key], depth + 1)
      }
      return bytes
    }
    default:
      return 0
  }
}

/**
 * An estimate of the tokens in streamed text (about four bytes a token), used only to catch
 * a provider that streams past the max output tokens it was given.
 *
 * @example
 * estimateOutputTokens('four') // 1
 */
export function estimateOutputTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4)
}

function tokens(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0
}

/**
 * The cost in micro-dollars of a call with this usage.
 *
 * @example
 * const micros = costOfUsage({ inputTokens: 1200, cacheReadTokens: 800, outputTokens: 300 }, rates)
 */
export function costOfUsage(usage: TokenUsage, rates: ModelRates): number {
  const cacheRead = tokens(usage.cacheReadTokens)
  const cacheWrite = tokens(usage.cacheWriteTokens)
  // Providers that report input without the cached part: the total is at least the parts.
  const input = Math.max(tokens(usage.inputTokens), cacheRead + cacheWrite)
  const output = tokens(usage.outputTokens)
  const reasoning = Math.min(tokens(usage.reasoningTokens), output)
  const uncached = input - cacheRead - cacheWrite
  const picos =
    uncached * rateAt(rates.input, input) +
    cacheRead * rateAt(rates.cacheRead, input) +
    cacheWrite * rateAt(rates.cacheWrite, input) +
    (output - reasoning) * rateAt(rates.output, input) +
    reasoning * rateAt(rates.reasoning, input)
  return rates.perRequestMicros + mulDivCeil(picos, 1, PER_MILLION)
}

/** The most an input token can cost (cache writes can cost more than plain input). */
function maxInputRate(rates: ModelRates): number {
  return Math.max(maxRate(rates.input), maxRate(rates.cacheWrite), maxRate(rates.cacheRead))
}

/** The most an output token can cost (reasoning can be priced apart). */
export function maxOutputRate(rates: ModelRates): number {
  return Math.max(maxRate(rates.output), maxRate(rates.reasoning))
}

/**
 * The cost bound in micro-dollars of a call with these input and output token bounds.
 *
 * @example
 * const holdMicros = costBound(inputTokenBound(prompt), maxOutputTokens, rates)
 */
export function costBound(inputTokens: number, maxOutputTokens: number, rates: ModelRates): number {
  return (
    rates.perRequestMicros +
    mulDivCeil(inputTokens, maxInputRate(rates), PER_MILLION) +
    mulDivCeil(maxOutputTokens, maxOutputRate(rates), PER_MILLION)
  )
}

/**
 * The largest max-output-tokens whose call `availableMicros` can pay for, given the input
 * bound; 0 when not even the input is affordable. Unbounded (Infinity) for a free model.
 *
 * @example
 * const maxOutputTokens = affordableOutputTokens(availableMicros, inputTokenBound(prompt), rates)
 */
export function affordableOutputTokens(
  availableMicros: number,
  inputTokens: number,
  rates: ModelRates,
): number {
  const left =
    availableMicros -
    rates.perRequestMicros -
    mulDivCeil(inputTokens, maxInputRate(rates), PER_MILLION)
  if (left < 0) return 0
  const rate = maxOutputRate(rates)
  if (rate === 0) return Number.POSITIVE_INFINITY
  // floor(left * 1e6 / rate) keeps ceil(n * rate / 1e6) <= left.
  let n = Math.floor((left * PER_MILLION) / rate)
  while (n > 0 && mulDivCeil(n, rate, PER_MILLION) > left) n--
  return n
}
