// A middleware cannot add a per-call max output tokens, signal or callback in LangChain: the
// provider reads the limit from the model (`maxTokens`). So the model is rebuilt with a lower
// limit, then bound to the call's stop signal and, where tokens can stream, to a callback
// counting them (a consumer that stops reading is charged what streamed, not the whole hold).
import type { ModelCall } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { Callbacks } from '@langchain/core/callbacks/manager'
import {
  mergeConfigs,
  type Runnable,
  RunnableBinding,
  type RunnableConfig,
} from '@langchain/core/runnables'
import { deltaText } from './model-io.js'

type Clampable = { maxTokens?: unknown; lc_kwargs: object; constructor: new (f: object) => unknown }

type Handler = Required<Pick<BaseCallbackHandler, `handle${string}` & keyof BaseCallbackHandler>>
/** The arguments LangChain passes to a callback handler's method `K`. */
export type Args<K extends keyof Handler> = Parameters<Handler[K]>

/**
 * Each model's last rebuild, kept while its limit stays the same (the usual case: a budget
 * far from its cap clamps every call alike): a new ChatOpenAI and its client cost about
 * 0.1 ms a call. Models are shared by concurrent calls anyway, and their clients too.
 */
const rebuilt = new WeakMap<object, { maxOutputTokens: number; model: unknown }>()

/** The model asking for at most `maxOutputTokens`; itself without a `maxTokens` setting. */
export function withMaxOutputTokens<T>(model: T, maxOutputTokens: number): T {
  const candidate = model as Partial<Clampable> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) return model
  const current = candidate.maxTokens
  if (typeof current === 'number' && current > 0 && current <= maxOutputTokens) return model
  const last = rebuilt.get(candidate)
  if (last?.maxOutputTokens === maxOutputTokens) return last.model as T
  const fields: Record<string, unknown> = { ...candidate.lc_kwargs, maxTokens: maxOutputTokens }
  // ChatOpenAI prefers `maxCompletionTokens` over `maxTokens` when both are given.
  if ('maxCompletionTokens' in fields) fields.maxCompletionTokens = maxOutputTokens
  const clamped = new (candidate as Clampable).constructor(fields)
  rebuilt.set(candidate, { maxOutputTokens, model: clamped })
  return clamped as T
}

/**
 * The model bound to `call` in a RunnableBinding of LangChain's own (createAgent binds tools
 * onto one as onto the model, keeping its config factories): ChatOpenAI's own `withConfig`
 * turns the config into call options, where callbacks are ignored.
 */
export function bindToCall<T>(model: T, call: ModelCall): T {
  const runnable = model as Runnable
  const config = { signal: call.signal }
  if (RunnableBinding.isRunnableBinding(runnable)) {
    return new RunnableBinding({
      bound: runnable.bound,
      kwargs: runnable.kwargs,
      config: mergeConfigs(runnable.config, config),
      configFactories: [...(runnable.configFactories ?? []), counting(call, runnable.bound)],
    }) as T
  }
  if ('_streamResponseChunks' in runnable) {
    const configFactories = [counting(call, runnable)]
    return new RunnableBinding({ bound: runnable, kwargs: {}, config, configFactories }) as T
  }
  // Not a chat model: it binds itself, always counted.
  const callbacks = [new KillSwitchOutputCounter(call)]
  return typeof runnable.withConfig === 'function'
    ? (runnable.withConfig({ ...config, callbacks }) as T)
    : model
}

/**
 * The binding's config factory, run with the config the model is invoked with: the counter
 * joins only where tokens can stream. LangChain streams to callbacks when the run or the
 * model has some (streamMode 'messages', streamEvents, a tracer, the caller's own), and a
 * model streams unasked only when it says so (`streaming: true`, as ChatOpenAI). Elsewhere a
 * counter would only make LangChain build a callback manager, serialize the model and send
 * run events for nothing: about a tenth of a createAgent turn.
 */
function counting(call: ModelCall, chatModel: object) {
  const model = chatModel as { streaming?: unknown; callbacks?: Callbacks }
  // initChatModel's configurable model: what it resolves to is not known here.
  const streams = model.streaming === true || '_getModelInstance' in model
  return (config: RunnableConfig): RunnableConfig =>
    streams || hasHandlers(config.callbacks) || hasHandlers(model.callbacks)
      ? { callbacks: [new KillSwitchOutputCounter(call)] }
      : {}
}

const hasHandlers = (callbacks: Callbacks | undefined) =>
  (Array.isArray(callbacks) ? callbacks : (callbacks?.handlers ?? [])).length > 0

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
