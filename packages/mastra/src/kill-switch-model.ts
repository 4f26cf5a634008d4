// The recommended Mastra integration: Mastra's models are AI SDK models, so the agent's model
// is wrapped with the AI SDK kill switch middleware. A refusal thrown there reaches the
// caller as the core's own error, class intact: the one Mastra path that keeps typed errors.

import {
  type KillSwitchMiddlewareOptions,
  type WrappableModel,
  withKillSwitch,
} from '@killswitch/vercel-ai'
import type { MastraModelConfig } from '@mastra/core/llm'

/**
 * Options of {@link killSwitchModel}: `{ killSwitch, credential }` or `{ guard }`, and pricing
 * overrides (`model`, `provider`) for a model id the price list does not know.
 *
 * @example
 * const options: KillSwitchModelOptions = { killSwitch: ks, credential, model: 'gpt-4o' }
 */
export type KillSwitchModelOptions = KillSwitchMiddlewareOptions

/**
 * Wraps an AI SDK model for a Mastra agent: every model call is held against the agent's
 * cap before the provider sees it, clamped, counted mid-stream, cancelled on revocation and
 * settled at the real usage; every tool call the model asks for is checked (revocation, loop
 * detection) before Mastra executes it. `agent.generate` rejects with the typed error
 * (AgentRevokedError, SpendingCapExceededError, RunawayDetectedError...); with
 * `agent.stream`, Mastra ends the stream with an `error` chunk and `stream.error` holds it.
 *
 * Takes a model object (e.g. `openai('gpt-4o')`), not a `'provider/model'` router string.
 *
 * @example
 * const agent = new Agent({
 *   id: 'researcher', name: 'researcher', instructions, tools,
 *   model: killSwitchModel(openai('gpt-4o'), { killSwitch: ks, credential }),
 * })
 * await agent.generate('go') // throws SpendingCapExceededError at the cap
 */
export function killSwitchModel(
  model: WrappableModel,
  options: KillSwitchModelOptions,
): MastraModelConfig {
  // Typed as what `new Agent({ model })` takes: @mastra/core 1.71 bundles its own copy of the
  // provider V4 types, older than @ai-sdk/provider 4.0.38 (no `interrupted` finish reason),
  // so an ai 7 model does not type-check there although Mastra runs it as is (tested).
  return withKillSwitch(model, options) as unknown as MastraModelConfig
}
