// The kill switch as LangChain v1 agent middleware (createAgent). It only translates: a model
// call runs through the core's lifecycle (`guard.startModelCall`), a tool call through
// `guard.runToolCall`, told whether the tool started. Every decision is the core's.
import { randomUUID } from 'node:crypto'
import type { AdapterOptions, AgentGuard } from '@killswitch/core'
import { adapterSetup, InvalidConfigError } from '@killswitch/core'
import { AIMessage, ToolMessage } from '@langchain/core/messages'
import { isInteropZodObject } from '@langchain/core/utils/types'
import { createMiddleware, ProviderStrategy, ToolInvocationError } from 'langchain'
import { refuseClientRetries } from './client-retries.js'
import { isGuardedModel } from './guard-model.js'
import { bindToCall } from './model-binding.js'
import { budgetScope, requestOptions, startLangChainCall } from './model-call-request.js'
import { modelIdentity, resolveModel } from './model-identity.js'
import { modelCallResult, modelInput } from './model-io.js'

/** The middleware, with its guard and the signal to pass to `createAgent({ signal })`. */
export type KillSwitchMiddleware = ReturnType<typeof createMiddleware> & {
  readonly guard: AgentGuard
  /** Aborted when the agent is revoked: `createAgent({ signal })` cancels requests in flight. */
  readonly signal: AbortSignal
}

/**
 * Kill switch middleware for `createAgent`. Put it LAST in `middleware`, inside any retry or
 * fallback middleware, so that each attempt is its own guarded call (README: ordering rule).
 * `wrapModelCall`/`wrapToolCall` errors reach the caller in LangChain's `MiddlewareError`:
 * `findKillSwitchError(error)` finds them.
 *
 * @example
 * const killSwitch = killSwitchMiddleware({ killSwitch: ks, credential })
 * const agent = createAgent({ model, tools, middleware: [killSwitch], signal: killSwitch.signal })
 */
export function killSwitchMiddleware(options: AdapterOptions): KillSwitchMiddleware {
  const { guard, naming, scope } = adapterSetup(options, { name: 'killSwitchMiddleware' })
  // The invocation's scope over the options': `{ configurable: { killswitch: { budgets } } }`,
  // in the invocation's own run unless a runId is given (options or configurable).
  const scopeOf = (runtime: Runtime | undefined) =>
    budgetScope({ runId: invocationRunId(runtime), ...scope }, 'configurable', runtime)

  const middleware = createMiddleware({
    name: 'KillSwitchMiddleware',
    // A graph node of its own, so its refusal reaches the caller unwrapped. It cannot see the
    // model: the price and the exact bound are checked in wrapModelCall.
    beforeModel: async () => {
      guard.signal.throwIfAborted()
      await guard.check({ requireBudget: true })
    },
    wrapModelCall: async (request, handler) => {
      const resolved = await resolveModel(request.model, request.runtime?.configurable)
      if (isGuardedModel(resolved)) throw new InvalidConfigError('model', DOUBLY_GUARDED)
      // Before anything is held or sent: the model's own retries would run under one hold.
      refuseClientRetries(resolved, request.modelSettings)
      const { sent, optionsByPath } = requestOptions(resolved, request.modelSettings)
      const call = await startLangChainCall(guard, {
        identity: await modelIdentity(resolved, naming),
        // What the provider would really allow: the model's kwargs can raise its limit.
        chatModel: resolved,
        input: modelInput(request, sent),
        optionsByPath,
        scope: scopeOf(request.runtime),
        signal: request.runtime?.signal,
      })
      const response = await call.run(async ({ maxOutputTokens }) =>
        handler({
          ...request,
          model: bindToCall(resolved, call, maxOutputTokens),
          responseFormat: strategyFor(resolved, request.responseFormat),
        }),
      )
      await call.finish(modelCallResult(modelAnswer(response)))
      return response
    },
    wrapToolCall: async (request, handler) => {
      const { name, args } = request.toolCall
      return guard.runToolCall(
        { name, args, ...scopeOf(request.runtime) },
        () => handler(request),
        {
          // LangChain checks the arguments against the tool's schema before the tool runs.
          threw: (error) => ({
            ok: false,
            error,
            started: !(error instanceof ToolInvocationError),
          }),
          // The tool's own error answer (it ran), or LangChain's for a tool it does not have.
          returned: (result) =>
            ToolMessage.isInstance(result) && result.status === 'error'
              ? { ok: false, error: new Error(result.text), started: !noSuchTool(request, result) }
              : { ok: true },
        },
      )
    },
  })
  return Object.assign(middleware, { guard, signal: guard.signal })
}

/** What the middleware reads of a hook's runtime. */
type Runtime = { configurable?: Record<string, unknown>; writer?: unknown }

/** Each LangGraph invocation's run id, by the invocation's stream writer. */
const invocationRuns = new WeakMap<object, string>()

/**
 * The run id of the agent invocation a call belongs to (`agent.invoke`, `agent.stream`), so
 * that the core judges each task as a run of its own: a worker doing distinct tasks one
 * after another is not one endless run repeating its tools, and a loop inside one invocation
 * still is. LangGraph gives a hook no run id (the root run's id exists only for callbacks),
 * but it makes one stream writer per invocation (`writer` in the runtime), handed to every
 * node and tool of it: the run is keyed by that writer. An agent invoked from a node of a
 * LangGraph graph of one's own inherits that graph's writer, so it shares the graph's
 * invocation as its run, as the callback handler groups calls under their outermost run.
 * Undefined (no run) where the runtime has no writer.
 */
function invocationRunId(runtime: Runtime | undefined): string | undefined {
  const writer = runtime?.writer
  if (typeof writer !== 'function') return undefined
  if (!invocationRuns.has(writer)) invocationRuns.set(writer, randomUUID())
  return invocationRuns.get(writer)
}

/**
 * createAgent picks a bare schema's strategy by the model it is handed: the provider's native
 * structured output where the model's profile says it has one, tool calling elsewhere. Handed
 * the guarded binding, which has no profile, it would always pick tool calling: picked here by
 * the model itself, as without the middleware.
 */
function strategyFor<T>(model: unknown, format: T): T {
  const profile = (model as { profile?: { structuredOutput?: unknown } }).profile
  return profile?.structuredOutput === true && isBareSchema(format)
    ? (ProviderStrategy.fromSchema(format) as T)
    : format
}

/**
 * A schema createAgent takes as it is (by LangChain's own checks): a zod object, a Standard Schema
 * that converts to JSON Schema, a JSON schema. Not a strategy, nor a list (always tools).
 */
function isBareSchema(format: unknown): format is Record<string, unknown> {
  if ((typeof format !== 'object' && typeof format !== 'function') || format === null) return false
  const standard = (format as { '~standard'?: { jsonSchema?: unknown } })['~standard']
  return (
    isInteropZodObject(format) ||
    (typeof standard === 'object' && standard !== null && 'jsonSchema' in standard) ||
    (!Array.isArray(format) && 'properties' in format)
  )
}

/**
 * The model's own message of what createAgent's model handler returns: the AIMessage, or,
 * with a `responseFormat` that parsed, `{ structuredResponse, messages }`, where the model's
 * reply (with its usage, text and tool calls, the structured answer's call among them) comes
 * first, before the tool message and the closing AIMessage LangChain writes itself.
 */
function modelAnswer(response: unknown): unknown {
  const messages = (response as { messages?: unknown } | undefined)?.messages
  if (AIMessage.isInstance(response) || !Array.isArray(messages)) return response
  return messages.find((message) => AIMessage.isInstance(message))
}

const DOUBLY_GUARDED =
  "Invalid model: the agent's model is a guardModel model and killSwitchMiddleware guards it too: each call would be held and charged twice. Give createAgent the model itself (the middleware guards its calls), and guardModel only to models the middleware does not see (a middleware's own model)."

/**
 * LangChain's own answer for a tool the agent does not have: no registered tool, and the
 * tool node's message for it (`getInvalidToolError` in langchain's ToolNode). A tool an inner
 * middleware supplies is not registered either, but its error answer says something else: it
 * ran, and is charged. Should LangChain reword its message, the call reads as ran: charged,
 * never free.
 */
function noSuchTool(request: { tool?: unknown; toolCall: { name: string } }, result: ToolMessage) {
  return (
    request.tool === undefined &&
    result.text.startsWith(`Error: ${request.toolCall.name} is not a valid tool`)
  )
}
