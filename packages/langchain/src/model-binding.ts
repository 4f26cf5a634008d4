// A middleware cannot add a per-call max output tokens, signal or callback in LangChain: the
// provider reads the limit from the model (`maxTokens`). So the model is rebuilt with a lower
// limit, then bound to the call's stop signal and, where tokens can stream, to a callback
// counting them (a consumer that stops reading is charged what streamed, not the whole hold).
import { billedApartIn, type ModelCall } from '@killswitch/core'
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
const LIMIT_KEYS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const

/**
 * Each model's last rebuild, kept while its limit stays the same (the usual case: a budget
 * far from its cap clamps every call alike): a new ChatOpenAI and its client cost about
 * 0.1 ms a call. Models are shared by concurrent calls anyway, and their clients too.
 */
const rebuilt = new WeakMap<object, { maxOutputTokens: number; model: unknown }>()

/** A token count as a limit: positive and whole (rounded up); anything else is no limit. */
function tokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.ceil(value)
    : undefined
}

/** The model's own limits: `maxTokens` and those its kwargs send to the API. */
function ownLimits(model: unknown): number[] {
  const candidate = model as Partial<Clampable> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) return []
  const fields = candidate.lc_kwargs as Fields
  const limits = [tokens(candidate.maxTokens)]
  for (const bag of KWARGS) {
    const kwargs = fields[bag] as Fields | undefined
    for (const key of LIMIT_KEYS) limits.push(tokens(kwargs?.[key]))
  }
  return limits.filter((limit): limit is number => limit !== undefined)
}

/**
 * The most output tokens the model asks the provider for: what it reports (`reported`,
 * its LangSmith `ls_max_tokens`), its `maxTokens` and the limits its kwargs pass through;
 * undefined when it sets none (the core then uses its default).
 */
export function requestedOutputTokens(model: unknown, reported: number | undefined) {
  const limits = ownLimits(model)
  if (reported !== undefined) limits.push(reported)
  // Each of n choices may use the whole limit: the provider bills them all.
  return limits.length > 0 ? Math.max(...limits) * choicesOf(model) : undefined
}

/**
 * The most output tokens a request's API fields ask for (`invocation_params`, kwargs spread
 * in): its largest limit, for each of its `n` choices; undefined when it sets none.
 */
export function requestedByParams(params: Fields | undefined): number | undefined {
  const limits = LIMIT_KEYS.map((key) => tokens(params?.[key])).filter(
    (limit): limit is number => limit !== undefined,
  )
  return limits.length > 0 ? Math.max(...limits) * Math.max(1, tokens(params?.n) ?? 1) : undefined
}

/** The choices each call asks for (ChatOpenAI's `n`, or `n` in its kwargs); 1 when unset. */
function choicesOf(model: unknown): number {
  const fields = (model as Partial<Clampable> | null)?.lc_kwargs as Fields | undefined
  if (typeof fields !== 'object' || fields === null) return 1
  const counts = [tokens(fields.n), ...KWARGS.map((bag) => tokens((fields[bag] as Fields)?.n))]
  return Math.max(1, ...counts.filter((count): count is number => count !== undefined))
}

/**
 * What a call sends the provider besides its messages and tools, by where it was set: the
 * model's kwargs, a binding's call options, createAgent's `modelSettings`, all spread into
 * the request (a `previous_response_id` there is content the provider adds: it is sized).
 */
export function requestOptions(model: unknown, modelSettings?: unknown) {
  const binding = RunnableBinding.isRunnableBinding(model) ? model : undefined
  const chat = (binding?.bound ?? model ?? {}) as Fields
  return {
    modelKwargs: chat.modelKwargs,
    invocationKwargs: chat.invocationKwargs,
    callOptions: binding?.kwargs,
    modelSettings,
  }
}

/**
 * `{ billedApart }` when an option the call sends is billed above the standard rates (the
 * core's rule): the model's own fields (ChatOpenAI's `service_tier`) or its `options`.
 */
export function billedApartOf(model: unknown, options: ReturnType<typeof requestOptions>) {
  // The model's own properties: its lc_kwargs leave some settings out (`service_tier`).
  const chat = (RunnableBinding.isRunnableBinding(model) ? model.bound : model) as Fields
  return billedApartIn({ '': chat, ...options })
}

/**
 * The model asking for at most `maxOutputTokens`, its kwargs' limits and thinking budget
 * included; itself when it asks for no more (or has no `maxTokens` setting).
 */
export function withMaxOutputTokens<T>(model: T, clamp: number): T {
  const candidate = model as Partial<Clampable> | null
  if (typeof candidate?.lc_kwargs !== 'object' || !('maxTokens' in candidate)) return model
  // The clamp is for all choices together: each gets its share (at least one token).
  const maxOutputTokens = Math.max(1, Math.floor(clamp / choicesOf(candidate)))
  const current = candidate.maxTokens
  const own = typeof current === 'number' && current > 0 && current <= maxOutputTokens
  if (own && ownLimits(candidate).every((limit) => limit <= maxOutputTokens)) return model
  const last = rebuilt.get(candidate)
  if (last?.maxOutputTokens === maxOutputTokens) return last.model as T
  const fields = clampedFields(candidate.lc_kwargs as Fields, maxOutputTokens)
  // lc_kwargs leave out what the model does not serialize: ChatOpenAI's `service_tier`.
  const tier = (candidate as Fields).service_tier
  if (tier !== undefined) fields.service_tier = tier
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
 * `max` (the API requires budget_tokens < max_tokens, thinking counted in max_tokens).
 */
function clampedFields(own: Fields, max: number): Fields {
  const fields: Fields = { ...own }
  const thinking = (value: unknown) => {
    const budget = (value as Fields | null | undefined)?.budget_tokens
    return typeof budget === 'number' && budget >= max
      ? { ...(value as Fields), budget_tokens: Math.max(1, max - 1) }
      : value
  }
  if (fields.thinking !== undefined) fields.thinking = thinking(fields.thinking)
  for (const bag of KWARGS) {
    const kwargs = fields[bag]
    if (typeof kwargs !== 'object' || kwargs === null) continue
    const next: Fields = { ...(kwargs as Fields) }
    for (const key of LIMIT_KEYS) {
      const limit = next[key]
      if (typeof limit === 'number' && limit > max) next[key] = max
    }
    if (next.thinking !== undefined) next.thinking = thinking(next.thinking)
    fields[bag] = next
  }
  return fields
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
