// LangChain has no per-call "max output tokens" nor a per-call signal a middleware can add:
// providers read the limit from the model instance (ChatOpenAI, ChatAnthropic... take
// `maxTokens` in their constructor), and the call options are built inside the agent node.
// So the model is rebuilt from its own constructor fields with `maxTokens` lowered, and
// bound with `withConfig({ signal })` (RunnableBinding merges it with the run's signal;
// createAgent binds tools onto such a binding as onto the model itself).

type ChatModelLike = {
  maxTokens?: unknown
  lc_kwargs?: Record<string, unknown>
  constructor: new (fields: Record<string, unknown>) => unknown
}

/**
 * Returns the model with its max output tokens lowered to `maxOutputTokens`; the model
 * itself when it already asks for no more, or has no `maxTokens` setting (`clamped` false:
 * the hold is settled from the reported usage).
 *
 * @example
 * const { model } = withMaxOutputTokens(new ChatOpenAI({ model: 'gpt-4o' }), 512)
 */
export function withMaxOutputTokens<T>(model: T, maxOutputTokens: number) {
  const candidate = model as Partial<ChatModelLike> | null
  const clampable =
    typeof candidate === 'object' &&
    candidate !== null &&
    'maxTokens' in candidate &&
    typeof candidate.lc_kwargs === 'object' &&
    candidate.lc_kwargs !== null
  if (!clampable) return { model, clamped: false }
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

/** The model bound to also abort when `signal` does; itself when it is not a runnable. */
export function withStopSignal<T>(model: T, signal: AbortSignal): T {
  const runnable = model as {
    withConfig?: (config: { signal: AbortSignal }) => unknown
    config?: { signal?: AbortSignal }
  }
  if (typeof runnable?.withConfig !== 'function') return model
  const own = runnable.config?.signal
  return runnable.withConfig({ signal: own ? AbortSignal.any([own, signal]) : signal }) as T
}
