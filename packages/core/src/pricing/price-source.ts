// Where prices come from: the user's overrides first, then the bundled price library.
// A model neither knows is unknown, and the guard refuses it (never priced at zero).
import { InvalidConfigError } from '../errors.js'
import { genaiPriceLookup } from './genai-prices.js'
import { type ModelRates, usdPerMTokToRate } from './model-rates.js'

/**
 * A model's price in dollars per million tokens. Sub-counts without a price of their own
 * fall back to their parent's rate: cache reads and writes to `inputPerMTok`, reasoning to
 * `outputPerMTok`.
 *
 * @example
 * const price: ModelPrice = { inputPerMTok: 2.5, outputPerMTok: 10, cacheReadPerMTok: 1.25 }
 */
export interface ModelPrice {
  inputPerMTok: number
  outputPerMTok: number
  cacheReadPerMTok?: number
  cacheWritePerMTok?: number
  reasoningPerMTok?: number
  /** A fixed price per request, in dollars. */
  perRequest?: number
  /**
   * The model's context window in tokens: it bounds an input part that cannot be sized from
   * the request (an image or a PDF by URL). Defaults to the price data's, else 1,000,000.
   */
  contextWindow?: number
}

/** Resolves a model (and optional provider) to its rates, or undefined when unknown. */
export interface PriceSource {
  resolve(model: string, provider?: string): ModelRates | undefined
}

/**
 * Splits `openai/gpt-4o` into provider and model; a bare id has no provider.
 *
 * @example
 * splitModelId('openai/gpt-4o') // { provider: 'openai', model: 'gpt-4o' }
 */
export function splitModelId(model: string): { provider?: string; model: string } {
  const slash = model.indexOf('/')
  if (slash <= 0 || slash === model.length - 1) return { model }
  return { provider: model.slice(0, slash), model: model.slice(slash + 1) }
}

/** `openai.chat` (AI SDK provider ids) to `openai`. */
export function normaliseProvider(provider: string | undefined): string | undefined {
  if (!provider) return undefined
  return provider.split('.')[0]?.toLowerCase() || undefined
}

function ratesFromOverride(priceId: string, price: ModelPrice): ModelRates {
  const input = usdPerMTokToRate(price.inputPerMTok)
  const output = usdPerMTokToRate(price.outputPerMTok)
  return {
    priceId,
    input,
    output,
    cacheRead:
      price.cacheReadPerMTok === undefined ? input : usdPerMTokToRate(price.cacheReadPerMTok),
    cacheWrite:
      price.cacheWritePerMTok === undefined ? input : usdPerMTokToRate(price.cacheWritePerMTok),
    reasoning:
      price.reasoningPerMTok === undefined ? output : usdPerMTokToRate(price.reasoningPerMTok),
    perRequestMicros: Math.round((price.perRequest ?? 0) * 1_000_000),
    ...(price.contextWindow === undefined ? {} : { contextWindow: price.contextWindow }),
    // The operator's prices are the prices of all its input and output, media included.
    mediaInput: input,
    mediaOutput: true,
  }
}

function checkPrice(model: string, price: ModelPrice): void {
  const window = price.contextWindow
  if (window !== undefined && (!Number.isSafeInteger(window) || window < 1)) {
    throw new InvalidConfigError(
      `prices.${model}.contextWindow`,
      `Invalid prices["${model}"].contextWindow: a whole number of tokens >= 1 (got ${String(window)}). ` +
        `Example: prices: { '${model}': { inputPerMTok: 2.5, outputPerMTok: 10, contextWindow: 128000 } }.`,
    )
  }
  const fields = [
    'inputPerMTok',
    'outputPerMTok',
    'cacheReadPerMTok',
    'cacheWritePerMTok',
    'reasoningPerMTok',
    'perRequest',
  ] as const
  for (const field of fields) {
    const value = price[field]
    const required = field === 'inputPerMTok' || field === 'outputPerMTok'
    if (value === undefined && !required) continue
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1_000_000) {
      throw new InvalidConfigError(
        `prices.${model}.${field}`,
        `Invalid prices["${model}"].${field}: ${required ? 'required, ' : ''}a finite number of dollars >= 0 (got ${String(value)}). ` +
          `Example: prices: { '${model}': { inputPerMTok: 2.5, outputPerMTok: 10 } }.`,
      )
    }
  }
}

/**
 * The default price source: `overrides` (exact model id, or `provider/model`), then the
 * bundled `@pydantic/genai-prices` data. Each model is resolved once and cached, until its
 * price may change (peak hours, a dated price): a process that started off-peak must not
 * price a peak call off-peak.
 *
 * @example
 * const prices = createPriceSource({ 'my-finetune': { inputPerMTok: 3, outputPerMTok: 12 } })
 * prices.resolve('my-finetune')
 */
export function createPriceSource(overrides: Record<string, ModelPrice> = {}): PriceSource {
  const own = new Map<string, ModelRates>()
  for (const [model, price] of Object.entries(overrides)) {
    checkPrice(model, price)
    own.set(model, ratesFromOverride(model, price))
  }
  const cache = new Map<string, { rates: ModelRates | undefined; validUntil: number }>()
  const FOREVER = Number.POSITIVE_INFINITY
  return {
    resolve(model, provider) {
      const key = provider ? `${provider}\u0000${model}` : model
      const cached = cache.get(key)
      // Most prices never change: no clock read for them.
      if (cached && (cached.validUntil === FOREVER || Date.now() < cached.validUntil)) {
        return cached.rates
      }
      const split = splitModelId(model)
      const providerId = normaliseProvider(provider) ?? split.provider
      const overridden =
        own.get(model) ??
        (providerId ? own.get(`${providerId}/${split.model}`) : undefined) ??
        own.get(split.model)
      const found = overridden
        ? { rates: overridden, validUntil: FOREVER }
        : (genaiPriceLookup(split.model, providerId) ?? { rates: undefined, validUntil: FOREVER })
      cache.set(key, found)
      return found.rates
    },
  }
}
