// A middleware cannot add a per-call max output tokens, signal or callback in LangChain: the
// provider reads the limit from the model (`maxTokens`). So the model is rebuilt with a lower
// limit, then bound to the call's stop signal and to a callback counting what streams (a
// consumer that stops reading is charged what streamed, not the whole hold).
import type { ModelCall } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import { mergeConfigs, type Runnable, RunnableBinding } from '@langchain/core/runnables'
import { deltaText } from './model-io.js'

type Clampable = { maxTokens?: unknown; lc_kwargs: object; constructor: new (f: object) => unknown }

type Handler = Required<Pick<BaseCallbackHandler, `handle${string}` & keyof BaseCallbackHandler>>
/** The arguments LangChain passes to a callback handler's method `K`. */
export type Args<K extends keyof Handler> = Parameters<Handler[K]>

/** The model asking for at most `maxOutputTokens`; itself without a `maxTokens` setting. */
export function withMaxOutputTokens<T>(model: T, maxOutputTokens: number): T {
  const candidate = model as Partial<Clampable> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) return model
  const current = candidate.maxTokens
  if (typeof current === 'number' && current > 0 && current <= maxOutputTokens) return model
  const fields: Record<string, unknown> = { ...candidate.lc_kwargs, maxTokens: maxOutputTokens }
  // ChatOpenAI prefers `maxCompletionTokens` over `maxTokens` when both are given.
  if ('maxCompletionTokens' in fields) fields.maxCompletionTokens = maxOutputTokens
  return new (candidate as Clampable).constructor(fields) as T
}

/**
 * The model bound to `call` in a RunnableBinding of LangChain's own (createAgent binds tools
 * onto one as onto the model): ChatOpenAI's own `withConfig` turns the config into call
 * options, where callbacks are ignored.
 */
export function bindToCall<T>(model: T, call: ModelCall): T {
  const config = { signal: call.signal, callbacks: [new KillSwitchOutputCounter(call)] }
  const runnable = model as Runnable
  if (RunnableBinding.isRunnableBinding(runnable)) {
    return runnable.withConfig(mergeConfigs(runnable.config, config)) as T
  }
  if ('_streamResponseChunks' in runnable) {
    return new RunnableBinding({ bound: runnable, kwargs: {}, config }) as T
  }
  // Not a chat model (initChatModel's configurable model): it binds itself.
  return typeof runnable.withConfig === 'function' ? (runnable.withConfig(config) as T) : model
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
