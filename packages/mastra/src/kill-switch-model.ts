// The recommended integration: Mastra's models are AI SDK models, so the agent's model is
// wrapped with the AI SDK adapter (the core's one lifecycle); a refusal reaches the caller as
// the core's own error, class intact, and Mastra does not retry it.
import type { LanguageModelV4 } from '@ai-sdk/provider'
import {
  type KillSwitchMiddlewareOptions,
  type WrappableModel,
  withKillSwitch,
} from '@killswitch/vercel-ai'
import type { MastraModelConfig } from '@mastra/core/llm'
import { notRetried } from './refusal.js'

/**
 * Options of {@link killSwitchModel}: the AI SDK adapter's.
 *
 * @example
 * const options: KillSwitchModelOptions = { killSwitch: ks, credential, model: 'gpt-4o' }
 */
export type KillSwitchModelOptions = KillSwitchMiddlewareOptions

/**
 * Wraps an AI SDK model object (not a `'provider/model'` string) for a Mastra agent: each
 * call goes through the AI SDK adapter. `agent.generate` rejects with the typed error;
 * `stream.error` holds it.
 *
 * @example
 * const agent = new Agent({ ...config, model: killSwitchModel(openai('gpt-4o'), { killSwitch: ks, credential }) })
 * await agent.generate('go') // throws SpendingCapExceededError at the cap
 */
export function killSwitchModel(
  model: WrappableModel,
  options: KillSwitchModelOptions,
): MastraModelConfig {
  const guarded = withKillSwitch(model, options)
  const final = (error: unknown) => Promise.reject(notRetried(error))
  const wrapped: LanguageModelV4 = {
    ...guarded,
    doGenerate: async (params) => guarded.doGenerate(params).then(undefined, final),
    doStream: async (params) => guarded.doStream(params).then(undefined, final),
  }
  // @mastra/core 1.71 bundles provider V4 types older than @ai-sdk/provider 4.0.38 (no
  // `interrupted` finish reason): an ai 7 model does not type-check there, yet runs (tested).
  return wrapped as unknown as MastraModelConfig
}
