// The bundled price data: `@pydantic/genai-prices` (offline, maintained). calcPrice costs
// ~10 µs a call, so a model's price entry is looked up once (the caller caches) and
// converted to integer rates; every later call is priced with integer arithmetic.
import { calcPrice, type ModelPrice as GenaiModelPrice } from '@pydantic/genai-prices'
import { type ModelRates, type Rate, usdPerMTokToRate } from './model-rates.js'

function toRate(value: GenaiModelPrice[string]): Rate | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') return usdPerMTokToRate(value)
  return {
    base: usdPerMTokToRate(value.base),
    tiers: value.tiers.map((tier) => ({ above: tier.start, rate: usdPerMTokToRate(tier.price) })),
  }
}

function contextWindowOf(tokens: number | undefined): { contextWindow?: number } {
  return typeof tokens === 'number' && Number.isSafeInteger(tokens) && tokens > 0
    ? { contextWindow: tokens }
    : {}
}

function lookup(model: string, providerId: string | undefined) {
  try {
    // Zero usage: we only want the price entry that applies now.
    return calcPrice({ input_tokens: 0, output_tokens: 0 }, model, providerId ? { providerId } : {})
  } catch {
    return null
  }
}

/** The rates of `model` in the bundled data, or undefined when it is not there. */
export function genaiPriceLookup(model: string, providerId?: string): ModelRates | undefined {
  const found = (providerId ? lookup(model, providerId) : null) ?? lookup(model, undefined)
  if (!found) return undefined
  const price = found.model_price
  const input = toRate(price.input_mtok)
  const output = toRate(price.output_mtok)
  // A model without token prices (an image model, say) cannot be bounded per token.
  if (input === undefined || output === undefined) return undefined
  const requests = price.requests_kcount
  return {
    priceId: `${found.provider.id}/${found.model.id}`,
    input,
    output,
    cacheRead: toRate(price.cache_read_mtok) ?? input,
    cacheWrite: toRate(price.cache_write_mtok) ?? input,
    reasoning: toRate(price.output_reasoning_mtok) ?? output,
    perRequestMicros: typeof requests === 'number' ? Math.ceil((requests * 1_000_000) / 1000) : 0,
    ...contextWindowOf(found.model.context_window),
  }
}
