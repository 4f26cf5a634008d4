// The kill switch as LangChain v1 agent middleware (createAgent). It only translates: a model
// call runs through the core's lifecycle (`guard.startModelCall`), a tool call through
// `guard.runToolCall`. Every decision is the core's.
import type { AdapterOptions, AgentGuard } from '@killswitch/core'
import { adapterSetup, BUDGET_SCOPE_KEY, mergeBudgetScope } from '@killswitch/core'
import { ToolMessage } from '@langchain/core/messages'
import { createMiddleware } from 'langchain'
import { bindToCall, withMaxOutputTokens } from './model-binding.js'
import { modelIdentity } from './model-identity.js'
import { modelCallResult, modelInput } from './model-io.js'

/** The middleware, with its guard and the signal to pass to `createAgent({ signal })`. */
export type KillSwitchMiddleware = ReturnType<typeof createMiddleware> & {
  readonly guard: AgentGuard
  /** Aborted when the agent is revoked: `createAgent({ signal })` cancels requests in flight. */
  readonly signal: AbortSignal
}

/**
 * Kill switch middleware for `createAgent`. Put it FIRST in `middleware`: a retry middleware
 * outside it retries and swallows its refusals. `wrapModelCall`/`wrapToolCall` errors reach
 * the caller in LangChain's `MiddlewareError`: `findKillSwitchError(error)` finds them.
 *
 * @example
 * const killSwitch = killSwitchMiddleware({ killSwitch: ks, credential })
 * const agent = createAgent({ model, tools, middleware: [killSwitch], signal: killSwitch.signal })
 */
export function killSwitchMiddleware(options: AdapterOptions): KillSwitchMiddleware {
  const { guard, naming, scope } = adapterSetup(options)
  // The invocation's scope over the options': `{ configurable: { killswitch: { budgets } } }`.
  const scopeOf = (runtime: { configurable?: Record<string, unknown> } | undefined) =>
    mergeBudgetScope(scope, runtime?.configurable?.[BUDGET_SCOPE_KEY], 'configurable.killswitch')

  const middleware = createMiddleware({
    name: 'KillSwitchMiddleware',
    // A graph node of its own, so its refusal reaches the caller unwrapped. It cannot see the
    // model: the price and the exact bound are checked in wrapModelCall.
    beforeModel: async () => {
      guard.signal.throwIfAborted()
      await guard.check({ requireBudget: true })
    },
    wrapModelCall: async (request, handler) => {
      const call = await guard.startModelCall({
        ...(await modelIdentity(request.model, naming)),
        input: modelInput(request),
        ...scopeOf(request.runtime),
        signal: request.runtime?.signal,
      })
      const message = await call.run(async ({ maxOutputTokens }) => {
        const model = withMaxOutputTokens(request.model, maxOutputTokens)
        return handler({ ...request, model: bindToCall(model, call) })
      })
      await call.finish(modelCallResult(message))
      return message
    },
    wrapToolCall: async (request, handler) => {
      const { name, args } = request.toolCall
      // The tool node turns some tool errors into error ToolMessages instead of throwing:
      // such a call did not deliver, so its price is released, and the message goes on.
      let failed: ToolMessage | undefined
      const run = guard.runToolCall({ name, args, ...scopeOf(request.runtime) }, async () => {
        const result = await handler(request)
        if (!ToolMessage.isInstance(result) || result.status !== 'error') return result
        failed = result
        throw new Error(result.text)
      })
      return run.catch((error: unknown) => failed ?? Promise.reject(error))
    },
  })
  return Object.assign(middleware, { guard, signal: guard.signal })
}
