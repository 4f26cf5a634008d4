// Request options that make the provider bill above the rates the price data holds: the
// data holds each model's standard rates only. One rule for every way an option reaches the
// provider: the AI SDK's provider options (camelCase), a LangChain model's fields and kwargs
// and a gateway's native body (the API's snake_case). A call carrying one is refused
// (`ModelCallRequest.billedApart`), never priced at the standard rate.
// - a service tier other than the standard or cheaper ones: OpenAI's priority (about twice),
//   scale; Anthropic's `auto` and `standard_only` are its standard;
// - Anthropic's fast mode (`speed: 'fast'`, several times the rate; OpenAI's speech `speed`
//   is a number and no price tier);
// - inference pinned to a region (`inference_geo` other than global);
// - fallbacks: a retry on another model, at its own price and limits.

/** An option billed apart: where it was set, its value, why it is refused and the fix. */
export interface BilledApartOption {
  /** The option's path as the caller wrote it, e.g. `providerOptions.openai.serviceTier`. */
  readonly field: string
  readonly value: unknown
  readonly why: string
  readonly fix: string
}

// OpenAI's standard and cheaper tiers, and Anthropic's own.
const STANDARD_TIERS: readonly unknown[] = ['auto', 'default', 'flex', 'standard', 'standard_only']

interface Rule {
  readonly keys: readonly string[]
  /** The value is billed at the standard rates (or cheaper). */
  readonly standard: (value: unknown) => boolean
  readonly why: string
  readonly fix: string
}

const RULES: readonly Rule[] = [
  {
    keys: ['serviceTier', 'service_tier'],
    standard: (tier) => STANDARD_TIERS.includes(tier),
    why: 'this service tier is billed above the standard rates the price data holds',
    fix: 'use "auto", "default" or "flex", or leave it out',
  },
  {
    keys: ['speed'],
    standard: (speed) => typeof speed !== 'string' || speed === 'standard',
    why: 'fast mode is billed at several times the standard rates the price data holds',
    fix: 'use "standard" or leave it out',
  },
  {
    keys: ['inferenceGeo', 'inference_geo'],
    standard: (geo) => geo === 'global',
    why: 'inference pinned to a region is billed above the standard rates the price data holds',
    fix: 'use "global" or leave it out',
  },
  {
    keys: ['fallbacks'],
    standard: (fallbacks) => Array.isArray(fallbacks) && fallbacks.length === 0,
    why: 'a fallback runs on another model, at its own price and output limit, which the hold for this model does not bound',
    fix: 'retry on the other model from the agent instead',
  },
]

/**
 * The first option of `options` (one bag of request options: a provider's options, a
 * model's kwargs, a request body) billed apart; undefined when there is none. `at` is the
 * bag's path, prefixed to the field's name ('' for a request body).
 *
 * @example
 * billedApartOption({ serviceTier: 'priority' }, 'providerOptions.openai')?.field
 * // 'providerOptions.openai.serviceTier'
 */
export function billedApartOption(options: unknown, at = ''): BilledApartOption | undefined {
  if (typeof options !== 'object' || options === null) return undefined
  const bag = options as Record<string, unknown>
  for (const rule of RULES) {
    for (const key of rule.keys) {
      const value = bag[key]
      if (value === undefined || value === null || rule.standard(value)) continue
      const field = at === '' ? key : `${at}.${key}`
      return { field, value, why: rule.why, fix: rule.fix }
    }
  }
  return undefined
}

/**
 * `{ billedApart }` for a call's request (`ModelCallRequest.billedApart`) when one of its
 * bags of options (path -> options: the AI SDK's provider options by namespace, a model's
 * fields and kwargs) holds an option billed apart; `{}` for the usual call.
 *
 * @example
 * billedApartIn(params.providerOptions, 'providerOptions')
 * // { billedApart: 'providerOptions.openai.serviceTier "priority"' }
 */
export function billedApartIn(
  bags: Readonly<Record<string, unknown>> | undefined,
  prefix = '',
): { billedApart?: string } {
  for (const [path, options] of Object.entries(bags ?? {})) {
    const option = billedApartOption(options, [prefix, path].filter(Boolean).join('.'))
    if (option) return { billedApart: `${option.field} ${JSON.stringify(option.value)}` }
  }
  return {}
}

/**
 * A model that searches the web on every call and bills each search apart from its tokens
 * (OpenAI's `gpt-4o-search-preview`, `gpt-5-search-api`): no hold bounds its searches.
 */
export function isSearchModel(model: string): boolean {
  return /search/i.test(model)
}
