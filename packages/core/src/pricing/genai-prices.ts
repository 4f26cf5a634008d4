// The bundled price data: `@pydantic/genai-prices` (offline, maintained). calcPrice costs
// ~10 µs a call, so a model's price entry is looked up once and converted to integer rates
// (the caller caches them until `validUntil`: some prices change by the hour or from a
// date); every later call is priced with integer arithmetic.
import {
  calcPrice,
  type ModelPrice as GenaiModelPrice,
  type ModelInfo,
} from '@pydantic/genai-prices'
import { higher, type ModelRates, type Rate, usdPerMTokToRate } from './model-rates.js'

function toRate(value: GenaiModelPrice[string]): Rate | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') return usdPerMTokToRate(value)
  return {
    base: usdPerMTokToRate(value.base),
    tiers: value.tiers.map((tier) => ({ above: tier.start, rate: usdPerMTokToRate(tier.price) })),
  }
}

/**
 * Long-context prices the data leaves out, by its model id. Claude Sonnet 4 and 4.5 take 1M
 * tokens with Anthropic's `context-1m` beta (on Bedrock and Vertex too), and a request past
 * 200k input tokens is billed 2x its input rates and 1.5x its output rate; where the data
 * gives such a model one flat price, a call past 200k would be held and settled at half
 * (`claude-sonnet-4-5` on Anthropic carries the tiers itself: kept as they are).
 */
const LONG_CONTEXT_MODELS: ReadonlySet<string> = new Set([
  'claude-sonnet-4-0',
  'claude-sonnet-4-5',
  'claude-4-sonnet',
  'anthropic/claude-sonnet-4',
  'anthropic/claude-sonnet-4.5',
  'global.anthropic.claude-sonnet-4-20250514-v1:0',
  'regional.anthropic.claude-sonnet-4-20250514-v1:0',
  'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
  'regional.anthropic.claude-sonnet-4-5-20250929-v1:0',
])
const LONG_CONTEXT_ABOVE = 200_000

/**
 * Windows the price data rounds down, by its model id: a bound below the real window lets a
 * stored conversation (`previous_response_id`) bill past the hold. OpenAI's gpt-4.1 family
 * takes 1,047,576 tokens; the data says 1,000,000.
 */
const WINDOW_CORRECTIONS: Readonly<Record<string, number>> = {
  'gpt-4.1': 1_047_576,
  'gpt-4.1-mini': 1_047_576,
  'gpt-4.1-nano': 1_047_576,
  // Claude Sonnet 4 and 4.5: 1M tokens with the `context-1m` beta, which a request can ask for
  // where no adapter sees it (a provider's default headers, a custom fetch): the data says 200k.
  ...Object.fromEntries([...LONG_CONTEXT_MODELS].map((id) => [id, 1_000_000])),
}

/** `rate` with the long-context tier (`factor` times its base past 200k), unless tiered already. */
function longContext(id: string, rate: Rate, factor: number): Rate {
  if (!LONG_CONTEXT_MODELS.has(id) || typeof rate !== 'number') return rate
  return { base: rate, tiers: [{ above: LONG_CONTEXT_ABOVE, rate: Math.ceil(rate * factor) }] }
}

function contextWindowOf(id: string, tokens: number | undefined): { contextWindow?: number } {
  const known = typeof tokens === 'number' && Number.isSafeInteger(tokens) && tokens > 0
  const corrected = WINDOW_CORRECTIONS[id]
  if (corrected !== undefined) return { contextWindow: Math.max(corrected, known ? tokens : 0) }
  return known ? { contextWindow: tokens } : {}
}

function lookup(model: string, providerId: string | undefined, at: Date) {
  try {
    // Zero usage: we only want the price entry that applies at `at`.
    const options = providerId ? { providerId, timestamp: at } : { timestamp: at }
    return calcPrice({ input_tokens: 0, output_tokens: 0 }, model, options)
  } catch {
    return null
  }
}

/** The highest of the rates under `keys` (undefined when the entry has none of them). */
function highest(price: GenaiModelPrice, keys: readonly string[]): Rate | undefined {
  let found: Rate | undefined
  for (const key of keys) {
    const rate = toRate(price[key])
    if (rate !== undefined) found = found === undefined ? rate : higher(found, rate)
  }
  return found
}

const MEDIA_INPUT = ['input_audio_mtok', 'input_image_mtok', 'input_video_mtok']
const MEDIA_CACHE_READ = ['cache_audio_read_mtok', 'cache_image_read_mtok']
const MEDIA_OUTPUT = ['output_audio_mtok', 'output_image_mtok', 'output_video_mtok']

/** A model's rates at a time, and until when they apply (ms since the epoch). */
export interface DatedRates {
  rates: ModelRates
  validUntil: number
}

/**
 * The rates of `model` in the bundled data at `at` (default now), or undefined when it is
 * not there. Output that a model prices by modality (audio, images) is bounded and charged
 * at its highest output rate: the usage frameworks report does not split output by modality.
 */
export function genaiPriceLookup(
  model: string,
  providerId?: string,
  at: Date = new Date(),
): DatedRates | undefined {
  const found = (providerId ? lookup(model, providerId, at) : null) ?? lookup(model, undefined, at)
  if (!found) return undefined
  const price = found.model_price
  const input = toRate(price.input_mtok)
  const text = toRate(price.output_mtok)
  // A model without token prices (an image model, say) cannot be bounded per token. One with
  // an input price only (an embedding model) is priced for calls without output alone.
  if (input === undefined) return undefined
  const inputOnly = text === undefined
  const media = highest(price, MEDIA_OUTPUT)
  const output = higher(text ?? 0, media)
  const requests = price.requests_kcount
  const mediaInput = highest(price, MEDIA_INPUT)
  const mediaCacheRead = highest(price, MEDIA_CACHE_READ)
  const longCacheWrite = toRate(price.cache_write_1h_mtok)
  const id = found.model.id
  // Input-side rates double past 200k, output ones rise by half (where the data forgot).
  const [twice, half] = [
    (rate: Rate) => longContext(id, rate, 2),
    (rate: Rate) => longContext(id, rate, 1.5),
  ]
  const rates: ModelRates = {
    priceId: `${found.provider.id}/${id}`,
    input: twice(input),
    output: half(output),
    cacheRead: twice(toRate(price.cache_read_mtok) ?? input),
    cacheWrite: twice(toRate(price.cache_write_mtok) ?? input),
    reasoning: half(toRate(price.output_reasoning_mtok) ?? output),
    perRequestMicros: typeof requests === 'number' ? Math.ceil((requests * 1_000_000) / 1000) : 0,
    ...contextWindowOf(id, found.model.context_window),
    ...(mediaInput !== undefined && { mediaInput }),
    ...(mediaCacheRead !== undefined && { mediaCacheRead }),
    ...(longCacheWrite !== undefined && { longCacheWrite: twice(longCacheWrite) }),
    ...(inputOnly && { inputOnly }),
    ...(media !== undefined && { mediaOutput: true as const }),
  }
  return { rates, validUntil: priceValidUntil(found.model, at.getTime()) }
}

const DAY_MS = 86_400_000

/**
 * When the entry that applies at `now` may stop applying: the next start date of a
 * dated price, or the next start or end of a time-of-day window (peak and off-peak
 * prices); Infinity for a model with one price. A process must not keep a price past it.
 */
export function priceValidUntil(model: ModelInfo, now: number): number {
  if (!Array.isArray(model.prices)) return Number.POSITIVE_INFINITY
  let next = Number.POSITIVE_INFINITY
  const consider = (at: number) => {
    if (Number.isFinite(at) && at > now && at < next) next = at
  }
  for (const { constraint } of model.prices) {
    if (constraint?.type === 'start_date') consider(Date.parse(constraint.start_date))
    if (constraint?.type === 'time_of_date') {
      for (const time of [constraint.start_time, constraint.end_time]) {
        const ofDay = Date.parse(`1970-01-01T${time}`)
        if (!Number.isFinite(ofDay)) return now // unreadable: look it up again every call
        const today = now - (now % DAY_MS) + ofDay
        consider(today > now ? today : today + DAY_MS)
      }
    }
  }
  return next
}
