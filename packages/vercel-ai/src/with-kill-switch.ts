// The one-line form: a model wrapped with the kill switch middleware.
import type { LanguageModelV4 } from '@ai-sdk/provider'
import { wrapLanguageModel } from 'ai'
import { type KillSwitchMiddlewareOptions, killSwitchMiddleware } from './kill-switch-middleware.js'

/** Any model object `wrapLanguageModel` accepts (V2, V3 and V4 providers). */
export type WrappableModel = Parameters<typeof wrapLanguageModel>[0]['model']

/**
 * Wraps a model so that every call goes through the agent's guard. Same as
 * `wrapLanguageModel({ model, middleware: killSwitchMiddleware(options) })`.
 *
 * @example
 * import { withKillSwitch } from '@killswitch/vercel-ai'
 * const model = withKillSwitch(openai('gpt-4o'), { killSwitch: ks, credential })
 * await generateText({ model, prompt: 'Summarise the incident' })
 */
export function withKillSwitch(
  model: WrappableModel,
  options: KillSwitchMiddlewareOptions,
): LanguageModelV4 {
  return wrapLanguageModel({ model, middleware: killSwitchMiddleware(options) })
}
