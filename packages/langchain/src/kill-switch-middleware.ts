// The kill switch as LangChain v1 agent middleware (createAgent). A thin translation onto the
// core guard: every model call is held before it runs and settled after, every tool call is
// checked before it runs. All decisions (revoked, over the cap, runaway) are the core's.

import type { AgentGuard, ModelCallResult, ToolCallTicket } from '@killswitch/core'
import { type AIMessage, ToolMessage } from '@langchain/core/messages'
import { createMiddleware } from 'langchain'
import { pick, SCOPE_KEY, scopeOf } from './budget-scope.js'
import { guardFromOptions, type KillSwitchOptions } from './guard-options.js'
import { modelIdentity } from './model-identity.js'
import { modelInput } from './model-input.js'
import { raceAbort } from './race-abort.js'
import { revokedError } from './revoked-error.js'
import { toTokenUsage } from './usage.js'
import { withMaxOutputTokens } from './with-max-output-tokens.js'
import { withStopSignal } from './with-stop-signal.js'

/**
 * The middleware, plus the guard it uses and its signal (pass it to `createAgent`).
 *
 * @example
 * const killSwitch: KillSwitchMiddleware = killSwitchMiddleware({ killSwitch: ks, credential })
 * createAgent({ model, tools, middleware: [killSwitch], signal: killSwitch.signal })
 */
export type KillSwitchMiddleware = ReturnType<typeof createMiddleware> & {
  /** The agent's guard. */
  readonly guard: AgentGuard
  /** Aborted when the agent is revoked: pass it as `createAgent({ signal })` to cancel in-flight requests. */
  readonly signal: AbortSignal
}

/**
 * Kill switch middleware for `createAgent`. Put it FIRST in `middleware`, outside any retry
 * middleware: a retry middleware outside it retries and swallows its refusals.
 *
 * Errors thrown inside `wrapModelCall` / `wrapToolCall` reach the caller wrapped in
 * LangChain's `MiddlewareError`: use `findKillSwitchError(error)` to get the typed error.
 *
 * @example
 * const killSwitch = killSwitchMiddleware({ killSwitch: ks, credential })
 * const agent = createAgent({ model, tools, middleware: [killSwitch], signal: killSwitch.signal })
 * try { await agent.invoke({ messages }) } catch (error) { console.log(findKillSwitchError(error)?.code) }
 */
export function killSwitchMiddleware(options: KillSwitchOptions): KillSwitchMiddleware {
  const guard = guardFromOptions(options)
  const naming = { model: options.model, provider: options.provider }
  const toolPrices = options.toolPrices ?? {}
  const base = pick(options)
  // The call's scope: the options' with the invocation's `configurable.killswitch` over it
  // (`agent.invoke(input, { configurable: { killswitch: { budgets: ['customer-acme'] } } })`).
  const scopeFor = (runtime: { configurable?: Record<string, unknown> } | undefined) =>
    scopeOf(base, runtime?.configurable?.[SCOPE_KEY], `configurable.${SCOPE_KEY}`)

  const middleware = createMiddleware({
    name: 'KillSwitchMiddleware',
    // Runs in its own graph node, so its error reaches the caller unwrapped: revocation, a
    // stopped run and an exhausted budget are refused here. It cannot see the model (only
    // state and runtime), so the price and the exact bound are checked in wrapModelCall.
    beforeModel: async () => {
      guard.signal.throwIfAborted()
      await guard.check({ requireBudget: true })
    },
    wrapModelCall: async (request, handler) => {
      const scope = scopeFor(request.runtime)
      const identity = await modelIdentity(request.model, naming)
      const ticket = await guard.beforeModelCall({
        model: identity.model,
        provider: identity.provider,
        input: modelInput(request),
        maxOutputTokens: identity.maxOutputTokens,
        ...scope,
      })
      // Aborts the provider's request itself (its fetch), whether or not the caller passed a
      // signal down: on revocation it must stop billing, not run on unobserved.
      const stopper = new AbortController()
      let sent = false
      // Inside the promise: a model that cannot be rebuilt fails the call like any other
      // error. Not started at all when the agent was revoked since the reservation.
      const call = guard.signal.aborted
        ? Promise.reject(revokedError(guard))
        : Promise.resolve().then(() => {
            const { model } = withMaxOutputTokens(request.model, ticket.maxOutputTokens)
            sent = true
            return handler({ ...request, model: withStopSignal(model, stopper.signal) })
          })
      const outcome = await raceAbort(call, guard.signal)
      if (outcome.status === 'fulfilled') {
        await guard.afterModelCall(ticket, modelCallResult(outcome.value))
        return outcome.value
      }
      // A provider client turns the abort into its own error ("Request was aborted."): once
      // the agent is revoked, the typed error is what the caller gets.
      const error = guard.signal.aborted ? revokedError(guard) : outcome.reason
      stopper.abort(error)
      await guard.failModelCall(ticket, error, { sent })
      throw error
    },
    wrapToolCall: async (request, handler) => {
      const { name, args } = request.toolCall
      const priceUsd = toolPrices[name]
      const scope = scopeFor(request.runtime)
      const ticket = await guard.beforeToolCall(
        priceUsd === undefined ? { name, args, ...scope } : { name, args, priceUsd, ...scope },
      )
      const call = Promise.resolve().then(() => handler(request))
      const outcome = await raceAbort(call, guard.signal)
      if (outcome.status === 'fulfilled') {
        const result = outcome.value
        // The tool node turns some tool errors into error ToolMessages instead of throwing.
        const failed = ToolMessage.isInstance(result) && result.status === 'error'
        await guard.afterToolCall(ticket, failed ? { ok: false, error: result.text } : { ok: true })
        return result
      }
      if (outcome.status === 'aborted') {
        settleToolCallWhenDone(guard, ticket, call)
        throw revokedError(guard)
      }
      await guard.afterToolCall(ticket, { ok: false, error: outcome.reason })
      throw outcome.reason
    },
  })
  return Object.assign(middleware, { guard, signal: guard.signal })
}

function modelCallResult(message: AIMessage): ModelCallResult {
  const result: ModelCallResult = { text: message.text }
  const usage = toTokenUsage(message.usage_metadata)
  if (usage !== undefined) result.usage = usage
  if (message.tool_calls !== undefined && message.tool_calls.length > 0) {
    result.toolCalls = message.tool_calls.map(({ name, args }) => ({ name, args }))
  }
  return result
}

// After a revocation the run stops at once, but a tool already running cannot be aborted
// from here: a paid tool's hold is settled (or released) when it ends. Errors here have no
// caller left to go to; an unsettled hold lapses, charged.
function settleToolCallWhenDone(guard: AgentGuard, ticket: ToolCallTicket, call: Promise<unknown>) {
  call
    .then(
      () => guard.afterToolCall(ticket, { ok: true }),
      (error: unknown) => guard.afterToolCall(ticket, { ok: false, error }),
    )
    .catch(() => undefined)
}
