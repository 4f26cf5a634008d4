// Provider options that make a call billed above the rates the price data holds, as the
// AI SDK's providers read them: OpenAI's `serviceTier` other than auto/default/flex
// (priority costs about twice), Anthropic's `speed: 'fast'` (several times), an
// `inferenceGeo` other than global, and `fallbacks` (a retry on another model, at its
// price). The adapter only names them; the core refuses such a call (`billedApart`).
import type { LanguageModelV4CallOptions } from '@ai-sdk/provider'

type Options = Record<string, unknown>

// OpenAI's standard and cheaper tiers, and Anthropic's (`standard_only`).
const STANDARD_TIERS = new Set(['auto', 'default', 'flex', 'standard', 'standard_only'])

/**
 * The first provider option of `params` billed apart, as the caller wrote it; undefined
 * when there is none (most calls).
 *
 * @example
 * billedApart({ ...params, providerOptions: { openai: { serviceTier: 'priority' } } })
 * // 'providerOptions.openai.serviceTier "priority"'
 */
export function billedApart(params: LanguageModelV4CallOptions): string | undefined {
  const all = params.providerOptions
  if (all === undefined) return undefined
  // Every namespace is read as both: a gateway or a router passes either on.
  for (const [namespace, value] of Object.entries(all)) {
    const options = (value ?? {}) as Options
    const at = (key: string) =>
      `providerOptions.${namespace}.${key} ${JSON.stringify(options[key])}`
    const tier = options.serviceTier
    if (tier !== undefined && !(typeof tier === 'string' && STANDARD_TIERS.has(tier))) {
      return at('serviceTier')
    }
    // A string: OpenAI's speech `speed` is a number, and no price tier.
    if (typeof options.speed === 'string' && options.speed !== 'standard') return at('speed')
    const geo = options.inferenceGeo
    if (geo !== undefined && geo !== 'global') return at('inferenceGeo')
    const fallbacks = options.fallbacks
    if (fallbacks !== undefined && !(Array.isArray(fallbacks) && fallbacks.length === 0)) {
      return at('fallbacks')
    }
  }
  return undefined
}

/** `{ billedApart }` for the call's request when an option is billed apart, else nothing. */
export function billedApartOf(params: LanguageModelV4CallOptions): { billedApart?: string } {
  const option = billedApart(params)
  return option === undefined ? {} : { billedApart: option }
}
