// The provider's real output limit for a model call in the AI SDK's call options (the AI SDK
// adapter's params, and Mastra's: its models are AI SDK models), translated both ways: what a
// call really asks for (the guard holds for it), and the call's params once the guard's clamp
// is known. `maxOutputTokens` is not the whole story: provider options raise the limit the
// provider sends past it, and a clamp must cap them all, thinking and text sharing it.
// - @ai-sdk/openai (chat): `openai.maxCompletionTokens` is sent as max_completion_tokens,
//   which reasoning models obey instead of max_tokens (azure models read `azure` too).
// - @ai-sdk/anthropic: an enabled thinking budget is sent ON TOP of maxOutputTokens
//   (max_tokens = maxOutputTokens + budgetTokens, 1024 when unset); the `reasoning` call
//   option on a budget-thinking model adds a budget the provider computes from the model's
//   own max output, which the caller never sees. (`fallbacks`, a retry on another model, is
//   refused: billed-apart.ts.)
// An unknown provider (a gateway, a router, Anthropic's provider under another name) is read
// every way: each of its options namespaces, and its own, as OpenAI's and as Anthropic's,
// `reasoning` included.

import { largestCount } from './wire-output-limit.js'

/** The fields of a model call's params (the AI SDK's call options) that set its output limit. */
export interface OutputLimitParams {
  maxOutputTokens?: number
  /** Options by provider namespace (`openai`, `anthropic`, a gateway's own name...). */
  providerOptions?: Record<string, Record<string, unknown>>
  /** The AI SDK's reasoning level (`'provider-default'`, `'none'`, `'low'`...). */
  reasoning?: string
}

type Options = Record<string, unknown>

/** What a call asks of the provider, and its params for a given clamp. */
export interface OutputLimit<P extends OutputLimitParams = OutputLimitParams> {
  /**
   * The most output tokens (text, reasoning, thinking) the provider would be told to allow,
   * for `guard.startModelCall`; undefined when the call sets no bound of its own (the core
   * then uses its default) or when the provider computes part of it out of sight.
   */
  readonly requested: number | undefined
  /**
   * The params with the provider's real output limit at most `maxOutputTokens` (the core's
   * clamp, at least 1). A clamp not below `requested` keeps the caller's params. A fresh
   * object each time: the caller may complete it (its stop signal).
   */
  params(maxOutputTokens: number): P
  /**
   * The provider bills output it does not stream in full: Anthropic's thinking (Claude 4
   * streams a summary of it, and bills all of it). A call cut off without usage is then
   * charged its output bound (the core's `OutputDelta.uncounted`), not what streamed.
   */
  readonly hidesOutput: boolean
}

/**
 * The output limit of a call to the model of `provider` (`model.provider`, e.g.
 * `openai.chat`, `anthropic.messages`).
 *
 * @example
 * const limit = outputLimit(params, model.provider, guard.defaultMaxOutputTokens)
 * const call = await guard.startModelCall({ ...identity, maxOutputTokens: limit.requested })
 * await call.run(({ maxOutputTokens }) => model.doGenerate(limit.params(maxOutputTokens)))
 */
export function outputLimit<P extends OutputLimitParams>(
  params: P,
  provider: string | undefined,
  defaultMaxOutputTokens?: number,
): OutputLimit<P> {
  // Most calls: no provider options and no reasoning, so nothing raises the limit.
  if (params.providerOptions === undefined && params.reasoning === undefined) {
    return {
      requested: params.maxOutputTokens,
      // The clamp is never above a limit the caller set: it is the limit to send.
      params: (maxOutputTokens) => ({ ...params, maxOutputTokens }),
      hidesOutput: false,
    }
  }
  const readers = readersOf(params, provider)
  const base = Number.isInteger(params.maxOutputTokens)
    ? largestCount(params.maxOutputTokens)
    : undefined
  // A reader's primary limit: undefined when its text part, or its budget, is not known.
  let primary: number | undefined = base
  let known = true
  // The text part sent beside a thinking budget when the call sets none: the core's default
  // (without the kill switch, the provider would send the model's maximum beside it).
  let text = base
  let hidesOutput = false
  for (const reader of readers) {
    const options = reader.options
    if (reader.openai) {
      const completion = largestCount(options.maxCompletionTokens)
      if (completion !== undefined) primary = Math.max(primary ?? 0, completion)
    }
    if (reader.anthropic) {
      const budget = thinkingBudget(options.thinking)
      if (budget !== undefined) {
        text ??= defaultMaxOutputTokens
        if (text === undefined) known = false
        else primary = Math.max(primary ?? 0, text + budget)
      }
      if (computesBudget(params, options)) known = false
      hidesOutput ||= mayThink(params, options)
    }
  }
  const requested =
    base === undefined && params.maxOutputTokens !== undefined
      ? params.maxOutputTokens // not a token count: the core refuses it (InvalidConfigError)
      : known
        ? primary
        : undefined
  return {
    requested,
    hidesOutput,
    params(maxOutputTokens) {
      // Asked no more than the clamp: sent as asked. `maxOutputTokens` is set even when the
      // provider reads another limit, so that a provider reading none is bounded too.
      if (requested !== undefined && maxOutputTokens >= requested) {
        return { ...params, maxOutputTokens: params.maxOutputTokens ?? text ?? maxOutputTokens }
      }
      return clamped(params, readers, maxOutputTokens)
    },
  }
}

/** One way a provider reads the call's options. */
interface Reader {
  /** The namespaces it reads, merged in order (a later one's fields win). */
  namespaces: string[]
  options: Options
  openai: boolean
  /** Read as Anthropic's, `reasoning` too: it turns that call option into a thinking budget. */
  anthropic: boolean
}

function readersOf(params: OutputLimitParams, provider = ''): Reader[] {
  const all = params.providerOptions ?? {}
  const reader = (namespaces: string[], kind: 'openai' | 'anthropic' | 'any'): Reader => ({
    namespaces,
    options: Object.assign({}, ...namespaces.map((name) => all[name] ?? {})) as Options,
    openai: kind !== 'anthropic',
    anthropic: kind !== 'openai',
  })
  const name = provider.toLowerCase()
  const prefix = provider.split('.')[0] ?? provider
  // @ai-sdk/anthropic reads `anthropic`, then the provider's own name (vertex, bedrock...).
  if (name.includes('anthropic')) {
    const own = prefix === 'googleVertex' ? [prefix, 'vertex'] : [prefix]
    return [reader([...new Set(['anthropic', ...own])], 'anthropic')]
  }
  if (name.includes('azure')) return [reader(['openai', 'azure'], 'openai')]
  if (name.startsWith('openai')) return [reader(['openai'], 'openai')]
  // Unknown: its own namespace and every other, each read as either provider's, `reasoning`
  // included (an Anthropic provider under another name turns it into a thinking budget).
  const namespaces = new Set([...(prefix ? [prefix] : []), ...Object.keys(all)])
  return [...namespaces].map((namespace) => reader([namespace], 'any'))
}

/** The params with every limit a reader reads at most `max`: text and thinking share it. */
function clamped<P extends OutputLimitParams>(params: P, readers: Reader[], max: number): P {
  const providerOptions: Record<string, Options> = { ...params.providerOptions }
  let written = params.providerOptions !== undefined
  let text = Math.min(largestCount(params.maxOutputTokens) ?? max, max)
  // Each namespace a reader reads is clamped alone: their merge is then clamped too.
  const edit = (namespace: string, change: (options: Options) => Options) => {
    const options = providerOptions[namespace]
    if (options !== undefined) providerOptions[namespace] = change(options)
  }
  for (const reader of readers) {
    for (const namespace of reader.namespaces) {
      if (reader.openai) {
        edit(namespace, (options) =>
          typeof options.maxCompletionTokens === 'number' && options.maxCompletionTokens > max
            ? { ...options, maxCompletionTokens: max }
            : options,
        )
      }
      if (reader.anthropic) {
        edit(namespace, (options) => {
          const budget = thinkingBudget(options.thinking)
          if (budget === undefined) return options
          const kept = Math.min(budget, max - 1)
          text = Math.min(text, max - kept)
          return { ...options, thinking: { ...(options.thinking as Options), budgetTokens: kept } }
        })
      }
    }
    // The provider would compute a budget from the model's own max output: made explicit,
    // a share of the clamp (the provider's shares of the model's max, at least 1024).
    if (reader.anthropic && computesBudget(params, reader.options)) {
      const share = REASONING_SHARES[params.reasoning as keyof typeof REASONING_SHARES] ?? 1
      const budget = Math.min(max - 1, Math.max(1024, Math.round(max * share)))
      text = Math.min(text, max - budget)
      providerOptions.anthropic = {
        ...providerOptions.anthropic,
        thinking: { type: 'enabled', budgetTokens: budget },
      }
      written = true
    }
  }
  return {
    ...params,
    ...(written ? { providerOptions } : {}),
    maxOutputTokens: text,
  }
}

/**
 * The budget @ai-sdk/anthropic adds to maxOutputTokens for this thinking setting: an
 * enabled one's `budgetTokens` (1024 when unset); adaptive and disabled thinking add none.
 */
function thinkingBudget(thinking: unknown): number | undefined {
  if (typeof thinking !== 'object' || thinking === null) return undefined
  const { type, budgetTokens } = thinking as Options
  if (type !== 'enabled') return undefined
  return largestCount(budgetTokens) ?? 1024
}

/**
 * The provider may think, billed in full and streamed summarised: thinking not provably off
 * (any type but 'disabled': enabled, adaptive, between tools), an effort, or `reasoning`
 * (even 'none': a model that cannot stop thinking thinks between tools).
 */
function mayThink(params: OutputLimitParams, options: Options): boolean {
  const thinking = options.thinking
  const type =
    typeof thinking === 'object' && thinking !== null ? (thinking as Options).type : undefined
  if (type !== undefined) return type !== 'disabled'
  return (
    options.effort != null ||
    (params.reasoning !== undefined && params.reasoning !== 'provider-default')
  )
}

/**
 * @ai-sdk/anthropic turns `reasoning` into thinking only when the options set neither
 * thinking nor effort; 'none' adds no budget (disabled, between-tools or low effort).
 */
function computesBudget(params: OutputLimitParams, options: Options): boolean {
  const reasoning = params.reasoning
  return (
    reasoning !== undefined &&
    reasoning !== 'provider-default' &&
    reasoning !== 'none' &&
    options.thinking == null &&
    options.effort == null
  )
}

/** @ai-sdk/provider-utils' shares of a model's max output per reasoning level. */
const REASONING_SHARES = { minimal: 0.02, low: 0.1, medium: 0.3, high: 0.6, xhigh: 0.9, max: 0.95 }
