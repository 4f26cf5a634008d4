// One call of an AI SDK language model, held by the guard: its params translated into the
// core's model call, and back into the provider's params within the clamp. The middleware and
// Mastra's processor (its models are AI SDK models) both call models this way.
import type { LanguageModelV4, LanguageModelV4CallOptions } from '@ai-sdk/provider'
import {
  type AdapterSetup,
  type AgentGuard,
  BUDGET_SCOPE_KEY,
  type BudgetScope,
  billedApartIn,
  type ModelCall,
  mergeBudgetScope,
  outputLimit,
  type ProviderLimits,
} from '@killswitch/core'
import { modelIdentity } from './model-identity.js'

const SCOPE_FIELD = `providerOptions.${BUDGET_SCOPE_KEY}`

/** A held language model call, and the params to send its provider. */
export interface LanguageModelCall {
  call: ModelCall
  /** The params within the call's clamp, with its stop signal: a fresh object each time. */
  sent(limits: ProviderLimits): LanguageModelV4CallOptions
}

/**
 * Holds a call of `model` with `params` (refused before the provider sees it: revoked, over
 * the cap, runaway), sized for what the provider really receives, in the given budget scope.
 *
 * @example
 * const { call, sent } = await startLanguageModelCall(guard, model, params, { naming, scope })
 * const result = await call.run((limits) => model.doGenerate(sent(limits)))
 */
export async function startLanguageModelCall(
  guard: AgentGuard,
  model: LanguageModelV4,
  params: LanguageModelV4CallOptions,
  { naming, scope }: { naming: AdapterSetup['naming']; scope: BudgetScope | undefined },
): Promise<LanguageModelCall> {
  // What the provider would really allow: provider options can raise it (core output-limit.ts).
  const limit = outputLimit(params, model.provider, guard.defaultMaxOutputTokens)
  const call = await guard.startModelCall({
    ...modelIdentity(model, naming),
    // Sized for the input bound, provider options too: content they name the provider adds
    // (a previous response, a thread) and a one-hour cache are costlier input.
    input: { prompt: params.prompt, tools: params.tools, options: params.providerOptions },
    maxOutputTokens: limit.requested,
    ...billedApartIn(params.providerOptions, 'providerOptions'),
    // A call's `providerOptions.killswitch` over the caller's scope, for every entry point
    // (Mastra's processor ignored it: a customer's budget went uncharged, red team r21).
    ...mergeBudgetScope(scope ?? {}, params.providerOptions?.[BUDGET_SCOPE_KEY], SCOPE_FIELD),
    signal: params.abortSignal,
  })
  // Thinking billed in full but streamed summarised: what streams does not count it.
  if (limit.hidesOutput) call.output({ uncounted: true })
  const sent = ({ maxOutputTokens, signal }: ProviderLimits) => {
    // A fresh object (outputLimit builds one per clamp): completed in place, not copied.
    const params = limit.params(maxOutputTokens)
    params.abortSignal = signal
    // Our key is not the provider's (a gateway forwards all it is given).
    if (params.providerOptions?.[BUDGET_SCOPE_KEY] !== undefined) {
      const { [BUDGET_SCOPE_KEY]: _scope, ...providerOptions } = params.providerOptions
      params.providerOptions = providerOptions
    }
    return params
  }
  return { call, sent }
}
