// A middleware cannot add a per-call max output tokens, signal or callback in LangChain: the
// provider reads the limit from the model (`maxTokens`). So the model is rebuilt with a lower
// limit, then bound to the call's stop signal and, where tokens can stream, to a callback
// counting them (a consumer that stops reading is charged what streamed, not the whole hold).
import {
  choiceShare,
  clampWireOutputLimit,
  largestCount,
  type ModelCall,
  requestedOutputTokensIn,
  thinkingBelow,
  wireOutputLimit,
} from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { Callbacks } from '@langchain/core/callbacks/manager'
import type { Runnable, RunnableConfig } from '@langchain/core/runnables'
import { mergeConfigs, RunnableBinding } from '@langchain/core/runnables'
import { deltaText } from './model-io.js'

type Clampable = { maxTokens?: unknown; lc_kwargs: object; constructor: new (f: object) => unknown }
type Fields = Record<string, unknown>

type Handler = Required<Pick<BaseCallbackHandler, `handle${string}` & keyof BaseCallbackHandler>>
/** The arguments LangChain passes to a callback handler's method `K`. */
export type Args<K extends keyof Handler> = Parameters<Handler[K]>

/**
 * Where a chat model's own settings pass API fields through (ChatOpenAI's `modelKwargs`,
 * ChatAnthropic's `invocationKwargs`): spread into the request after `max_tokens`, so their
 * limits (and a `thinking.budget_tokens`) are limits of the call too.
 */
const KWARGS = ['modelKwargs', 'invocationKwargs'] as const

/**
 * Each model's last rebuild, kept while its limit stays the same (the usual case: a budget
 * far from its cap clamps every call alike): a new ChatOpenAI and its client cost about
 * 0.1 ms a call. Models are shared by concurrent calls anyway, and their clients too.
 */
const rebuilt = new WeakMap<object, { maxOutputTokens: number; model: unknown }>()

/** The model's own limit: its `maxTokens` and those its kwargs send to the API. */
function ownLimit(model: unknown): number | undefined {
  const candidate = model as Partial<Clampable> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) return undefined
  const fields = candidate.lc_kwargs as Fields
  return largestCount(candidate.maxTokens, ...KWARGS.map((bag) => wireOutputLimit(fields[bag])))
}

/**
 * The most output tokens a call asks the provider for, undefined when it sets none (the
 * core then uses its default): the model's own limits (`maxTokens`, those its kwargs pass
 * through, and `reported`, its LangSmith `ls_max_tokens`) and those of the API fields the
 * request sends (`params`: `invocation_params`, kwargs spread in), each times the `n`
 * choices it asks for: each choice may use the whole limit, and the provider bills them all.
 */
export function requestedOutputTokens(model: unknown, reported?: number, params?: Fields) {
  // The model's own limits as the API fields it sends, read by the same core rule.
  const own = { max_tokens: largestCount(ownLimit(model), reported), n: choicesOf(model) }
  return largestCount(requestedOutputTokensIn(own), requestedOutputTokensIn(params))
}

/** The choices each call asks for (ChatOpenAI's `n`, or `n` in its kwargs); 1 when unset. */
function choicesOf(model: unknown): number {
  const fields = (model as Partial<Clampable> | null)?.lc_kwargs as Fields | undefined
  if (typeof fields !== 'object' || fields === null) return 1
  return largestCount(fields.n, ...KWARGS.map((bag) => (fields[bag] as Fields | null)?.n)) ?? 1
}

/**
 * The model asking for at most `maxOutputTokens`, its kwargs' limits and thinking budget
 * included; itself when it asks for no more (or has no `maxTokens` setting).
 */
export function withMaxOutputTokens<T>(model: T, clamp: number): T {
  const candidate = model as Partial<Clampable> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) return model
  // The clamp is for all choices together: each gets its share. One token at the least, so
  // more choices than the clamp has tokens ask for up to a token a choice past it.
  const maxOutputTokens = choiceShare(clamp, choicesOf(candidate)) ?? 1
  const current = candidate.maxTokens
  const own = typeof current === 'number' && current > 0 && current <= maxOutputTokens
  if (own && (ownLimit(candidate) ?? 0) <= maxOutputTokens) return model
  const last = rebuilt.get(candidate)
  if (last?.maxOutputTokens === maxOutputTokens) return last.model as T
  const fields = clampedFields(candidate.lc_kwargs as Fields, maxOutputTokens)
  // lc_kwargs leave out what the model does not serialize: ChatOpenAI's `service_tier`.
  const tier = (candidate as Fields).service_tier
  if (tier !== undefined) fields.service_tier = tier
  // Nor a retry count set on its caller after it was built (checked 0 before the call): the
  // rebuild would retry at LangChain's default of 6 inside one hold.
  const retries = (candidate as { caller?: { maxRetries?: unknown } }).caller?.maxRetries
  if (typeof retries === 'number') fields.maxRetries = retries
  if (!own) {
    fields.maxTokens = maxOutputTokens
    // ChatOpenAI prefers `maxCompletionTokens` over `maxTokens` when both are given.
    if ('maxCompletionTokens' in fields) fields.maxCompletionTokens = maxOutputTokens
  }
  const clamped = new (candidate as Clampable).constructor(fields) as Fields
  // ChatOpenAI's withConfig keeps call options (bound tools) on the model, outside its fields.
  const defaults = (candidate as Fields).defaultOptions
  if (defaults !== undefined) clamped.defaultOptions = defaults
  rebuilt.set(candidate, { maxOutputTokens, model: clamped })
  return clamped as T
}

/**
 * The model's fields with its kwargs' limits at most `max`, and every thinking budget below
 * `max` (the core's rule for API fields: `clampWireOutputLimit`).
 */
function clampedFields(own: Fields, max: number): Fields {
  const fields: Fields = { ...own }
  if (fields.thinking !== undefined) fields.thinking = thinkingBelow(fields.thinking, max)
  for (const bag of KWARGS) {
    if (fields[bag] !== undefined) fields[bag] = clampWireOutputLimit(fields[bag], max)
  }
  return fields
}

/**
 * The model asking for at most the call's `maxOutputTokens` (withMaxOutputTokens), bound to
 * `call` in a RunnableBinding of LangChain's own (createAgent binds tools onto one as onto
 * the model, keeping its config factories): ChatOpenAI's own `withConfig` turns the config
 * into call options, where callbacks are ignored.
 */
export function bindToCall<T>(model: T, call: ModelCall, maxOutputTokens: number): T {
  const runnable = withMaxOutputTokens(model, maxOutputTokens) as Runnable
  const config = { signal: call.signal }
  const binding = RunnableBinding.isRunnableBinding(runnable) ? runnable : undefined
  if (binding === undefined && !('_streamResponseChunks' in runnable)) {
    // Not a chat model: it binds itself, always counted.
    const callbacks = [new KillSwitchOutputCounter(call)]
    return typeof runnable.withConfig === 'function'
      ? (runnable.withConfig({ ...config, callbacks }) as T)
      : (runnable as T)
  }
  const bound = binding?.bound ?? runnable
  return new RunnableBinding({
    bound,
    kwargs: binding?.kwargs ?? {},
    config: mergeConfigs(binding?.config, config),
    configFactories: [...(binding?.configFactories ?? []), counting(call, bound)],
  }) as T
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
  const streams = model.streaming === true
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
