// LangChain has no per-call "max output tokens" option: providers read it from the model
// instance (ChatOpenAI, ChatAnthropic, ChatGoogleGenerativeAI... take `maxTokens` in their
// constructor). So to make the hold really bound the call, the model is rebuilt from its own
// constructor fields with `maxTokens` lowered. A model without that field is left as it is.

type ChatModelLike = {
  maxTokens?: unknown
  lc_kwargs?: Record<string, unknown>
  constructor: new (fields: Record<string, unknown>) => unknown
}

/**
 * Returns the model with its max output tokens lowered to `maxOutputTokens`, or the model
 * itself when it already asks for no more, or when it has no `maxTokens` setting (then
 * `clamped` is false and the hold is settled from the reported usage).
 *
 * @example
 * const { model } = withMaxOutputTokens(new ChatOpenAI({ model: 'gpt-4o' }), ticket.maxOutputTokens)
 */
export function withMaxOutputTokens<T>(
  model: T,
  maxOutputTokens: number,
): { model: T; clamped: boolean } {
  if (!isClampable(model)) return { model, clamped: false }
  const current = model.maxTokens
  if (typeof current === 'number' && current > 0 && current <= maxOutputTokens) {
    return { model, clamped: true }
  }
  const fields: Record<string, unknown> = { ...model.lc_kwargs, maxTokens: maxOutputTokens }
  // ChatOpenAI prefers `maxCompletionTokens` over `maxTokens` when both are given.
  if ('maxCompletionTokens' in fields) fields.maxCompletionTokens = maxOutputTokens
  const Model = model.constructor
  return { model: new Model(fields) as T, clamped: true }
}

function isClampable(model: unknown): model is ChatModelLike {
  if (model === null || typeof model !== 'object') return false
  const candidate = model as Partial<ChatModelLike>
  return (
    'maxTokens' in candidate &&
    typeof candidate.lc_kwargs === 'object' &&
    candidate.lc_kwargs !== null &&
    typeof candidate.constructor === 'function'
  )
}
