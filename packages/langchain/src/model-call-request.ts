// A LangChain model call as the core's request (`guard.startModelCall`), one translation for
// the three entry points: guardModel reads it from the model and its call options, the
// callback handler from the run's metadata and `invocation_params`, the middleware from
// createAgent's request. Each says what it sees; the rules of the request are here.
import {
  type AgentGuard,
  BUDGET_SCOPE_KEY,
  type BudgetScope,
  billedApartIn,
  type ModelCall,
  type ModelCallStart,
  mergeBudgetScope,
} from '@killswitch/core'
import { RunnableBinding } from '@langchain/core/runnables'
import { requestedOutputTokens } from './model-binding.js'
import type { identityFromLsParams } from './model-identity.js'
import { sentContent } from './model-io.js'

type Fields = Record<string, unknown>

/** A model call as an entry point sees it. */
export interface LangChainModelCall
  extends Pick<ModelCallStart, 'input' | 'signal' | 'fixedOutput'> {
  /** The model's name, provider and own limit, from its LangSmith params. */
  identity: ReturnType<typeof identityFromLsParams>
  /** The chat model (or a binding around one), where the entry point holds it: its own limits. */
  chatModel?: unknown
  /** The API fields it sends beside the messages (`invocationParams`), where reported. */
  params?: Fields
  /** Where options reach the provider, by path (`''` unprefixed): `billedApartIn` reads them. */
  optionsByPath: Readonly<Record<string, unknown>>
  /** Its budget scope (`budgetScope`). */
  scope: BudgetScope
}

/**
 * Starts the call in the core's lifecycle, asking for what it really asks the provider for
 * (the model's own limits and those of the API fields sent, for each of its choices), and
 * refused when one of its options is billed apart.
 */
export function startLangChainCall(
  guard: AgentGuard,
  call: LangChainModelCall,
): Promise<ModelCall> {
  // Field by field, no object rest: this runs on every call (V8's rest copy is a slow path).
  const { identity } = call
  return guard.startModelCall({
    ...identity,
    maxOutputTokens: requestedOutputTokens(call.chatModel, identity.maxOutputTokens, call.params),
    ...billedApartIn(call.optionsByPath),
    ...call.scope,
    input: call.input,
    signal: call.signal,
    fixedOutput: call.fixedOutput,
  })
}

/**
 * The entry point's scope with the call's own over it: `killswitch` in the `metadata` of the
 * run (guardModel's run manager, the callback handler's run) or in the `configurable` of the
 * invocation (the middleware's runtime); refused when it is no scope (`mergeBudgetScope`).
 */
export function budgetScope(base: BudgetScope, where: 'metadata' | 'configurable', run: unknown) {
  const fields = (run as Record<string, Fields | undefined> | undefined)?.[where]
  return mergeBudgetScope(base, fields?.[BUDGET_SCOPE_KEY], `${where}.${BUDGET_SCOPE_KEY}`)
}

/**
 * What a call sends the provider besides its messages and tools, by where it was set: the
 * model's kwargs, a binding's call options, createAgent's `modelSettings`, all spread into
 * the request (a `previous_response_id` there is content the provider adds: it is sized),
 * each as sized (`sentContent`: `sent`); and, whole, with the model's own properties (`''`:
 * its lc_kwargs leave some settings out, ChatOpenAI's `service_tier`), where an option
 * billed apart may be set too (`optionsByPath`).
 */
export function requestOptions(model: unknown, modelSettings?: unknown) {
  const binding = RunnableBinding.isRunnableBinding(model) ? model : undefined
  const chat = (binding?.bound ?? model ?? {}) as Fields
  const options = {
    modelKwargs: chat.modelKwargs,
    invocationKwargs: chat.invocationKwargs,
    callOptions: binding?.kwargs,
    modelSettings,
  }
  const sent: Fields = {}
  for (const [where, fields] of Object.entries(options)) sent[where] = sentContent(fields)
  return { sent, optionsByPath: { '': chat, ...options } }
}

/**
 * The API fields a model sends beside its messages (its `invocationParams`: tools, kwargs,
 * call options such as `previous_response_id`), sized with them as the middleware's are
 * (`sentContent`); the call's tools when the model reports none.
 */
export function sentFields(params: unknown, options: unknown): unknown {
  return sentContent(params ?? { tools: (options as { tools?: unknown } | undefined)?.tools })
}
