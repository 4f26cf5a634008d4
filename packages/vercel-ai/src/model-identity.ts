// Which model the core prices: the wrapped model's own id and provider, unless overridden.
import type { LanguageModelV4 } from '@ai-sdk/provider'

/** The model id and provider id the core looks the price up with. */
export interface ModelIdentity {
  model: string
  provider: string | undefined
}

/**
 * The AI SDK names providers by API flavour (`openai.chat`, `anthropic.messages`): the price
 * lists know the family, the part before the first dot.
 *
 * @example
 * modelIdentity({ modelId: 'gpt-4o', provider: 'openai.chat' }) // { model: 'gpt-4o', provider: 'openai' }
 */
export function modelIdentity(
  model: Pick<LanguageModelV4, 'modelId' | 'provider'>,
  overrides: { model?: string; provider?: string } = {},
): ModelIdentity {
  const family = model.provider?.split('.')[0] || undefined
  return { model: overrides.model ?? model.modelId, provider: overrides.provider ?? family }
}
