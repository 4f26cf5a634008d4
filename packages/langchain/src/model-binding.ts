// LangChain has no per-call max output tokens, nor a per-call signal or callback a middleware
// can add: providers read the limit from the model instance (ChatOpenAI, ChatAnthropic...
// take `maxTokens`), and the call options are built inside the agent node. So the model is
// rebuilt from its own constructor fields with the limit lowered, and bound with
// `withConfig` (RunnableBinding merges it with the run's config; createAgent binds tools onto
// a binding as onto the model) to the call's stop signal and to a callback counting what
// streams: a clamped model's stream is counted too, so a consumer that stops reading is
// charged what streamed, not the whole hold.
import type { ModelCall } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import {
  mergeConfigs,
  type Runnable,
  RunnableBinding,
  type RunnableConfig,
} from '@langchain/core/runnables'
import type { Args } from './kill-switch-options.js'
import { deltaText } from './model-io.js'

type ChatModelLike = {
  maxTokens?: unknown
  lc_kwargs?: Record<string, unknown>
  constructor: new (fields: Record<string, unknown>) => unknown
}

/**
 * Returns the model with its max output tokens lowered to `maxOutputTokens`; the model
 * itself when it already asks for no more, or has no `maxTokens` setting (`clamped` false:
 * only its stream's count bounds it).
 *
 * @example
 * const { model } = withMaxOutputTokens(new ChatOpenAI({ model: 'gpt-4o' }), 512)
 */
export function withMaxOutputTokens<T>(model: T, maxOutputTokens: number) {
  const candidate = model as Partial<ChatModelLike> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) {
    return { model, clamped: false }
  }
  const current = candidate.maxTokens
  if (typeof current === 'number' && current > 0 && current <= maxOutputTokens) {
    return { model, clamped: true }
  }
  const fields: Record<string, unknown> = { ...candidate.lc_kwargs, maxTokens: maxOutputTokens }
  // ChatOpenAI prefers `maxCompletionTokens` over `maxTokens` when both are given.
  if ('maxCompletionTokens' in fields) fields.maxCompletionTokens = maxOutputTokens
  const Model = (candidate as ChatModelLike).constructor
  return { model: new Model(fields) as T, clamped: true }
}

/**
 * The model bound to `call`: aborted by its stop signal, its streamed output counted. A
 * RunnableBinding of LangChain's own, as createAgent expects: ChatOpenAI's `withConfig`
 * returns a ChatOpenAI that takes the config as call options, where callbacks are ignored.
 */
export function bindToCall<T>(model: T, call: ModelCall): T {
  const config = { signal: call.signal, callbacks: [new KillSwitchOutputCounter(call)] }
  if (RunnableBinding.isRunnableBinding(model)) {
    const { bound, kwargs, configFactories } = model
    return new RunnableBinding({
      bound,
      kwargs,
      configFactories,
      config: mergeConfigs(model.config, config),
    }) as T
  }
  // A chat model; anything else (initChatModel's configurable model) binds itself.
  if (typeof (model as { _streamResponseChunks?: unknown })._streamResponseChunks === 'function') {
    return new RunnableBinding({ bound: model as Runnable, kwargs: {}, config }) as T
  }
  const runnable = model as { withConfig?: (config: RunnableConfig) => T }
  return typeof runnable?.withConfig === 'function' ? runnable.withConfig(config) : model
}

class KillSwitchOutputCounter extends BaseCallbackHandler {
  name = 'KillSwitchOutputCounter'
  readonly #call: ModelCall
  constructor(call: ModelCall) {
    // raiseError: the typed error thrown past the hold (or once revoked) ends the stream.
    super({ raiseError: true })
    this.#call = call
  }
  override async handleLLMNewToken(...[token, , , , , fields]: Args<'handleLLMNewToken'>) {
    this.#call.output({ text: deltaText(token, fields) })
  }
}
