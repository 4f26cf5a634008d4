// Paid tools on the agent's cap: wraps each tool's `execute` so that a tool with a price per
// call holds that price before it runs and settles it after (released when it fails).
//
// Division of labour with the middleware, so that no call is counted twice: the middleware
// sees every tool call the model makes and passes it through `guard.beforeToolCall` (status
// and loop detection, before the SDK executes anything; a refusal ends the run). guardTools
// only meters money (`reserveSpend`, kind `tool`) and checks the credential before running
// a tool. Used alone, without the middleware, it holds prices but detects no loops.
import { type AgentGuard, parseToolPrices } from '@killswitch/core'
import type { ToolExecutionOptions, ToolSet } from 'ai'
import { type BudgetScope, pick } from './budget-scope.js'
import { type GuardSource, resolveGuard } from './guard-options.js'

/** Options of `guardTools`. */
export type GuardToolsOptions<TOOLS extends ToolSet = ToolSet> = GuardSource &
  BudgetScope & {
    /** Dollars per call of the paid tools, by tool name (`{ search: 0.005 }`). Others are free. */
    toolPrices?: { [NAME in keyof TOOLS]?: number }
    // BudgetScope: a paid tool's price is held on the run (`runId`, `runCap`, `parentRunId`)
    // and on the shared `budgets` named here, like the model calls.
  }

type Execute = (input: unknown, options: ToolExecutionOptions<unknown>) => unknown

/**
 * Wraps tools so that paid ones count against the agent's cap and a revoked agent's tools
 * do not run. A refused tool throws the core's typed error, which the AI SDK reports to the
 * model as a tool error; pair it with `killSwitchMiddleware` to stop the run itself.
 *
 * @example
 * const tools = guardTools({ search, readFile }, {
 *   killSwitch: ks,
 *   credential,
 *   toolPrices: { search: 0.005 },
 * })
 * await generateText({ model, tools, stopWhen: isStepCount(10), prompt })
 */
export function guardTools<TOOLS extends ToolSet>(
  tools: TOOLS,
  options: GuardToolsOptions<TOOLS>,
): TOOLS {
  const guard = resolveGuard(options)
  // A price on a misspelled tool would leave the real tool free: refused with the fix.
  const prices = parseToolPrices(options.toolPrices, Object.keys(tools))
  const scope = pick(options)
  const guarded: Record<string, unknown> = {}
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute as Execute | undefined
    // Tools without execute are run by the provider or the client UI, not here.
    guarded[name] = execute
      ? {
          ...tool,
          execute: wrapExecute(guard, name, execute, prices[name] ?? 0, scope),
        }
      : tool
  }
  return guarded as TOOLS
}

function wrapExecute(
  guard: AgentGuard,
  name: string,
  execute: Execute,
  priceUsd: number,
  scope: BudgetScope,
): Execute {
  // Before the tool runs: a paid tool holds its price (and checks status and budget), a free
  // one checks that the agent is not revoked. Returns how to end the call.
  const begin = async () => {
    if (priceUsd === 0) {
      await guard.check()
      return { succeeded: async () => {}, failed: (error: unknown) => guard.onError(error, 'tool') }
    }
    const ticket = await guard.reserveSpend({
      amountUsd: priceUsd,
      kind: 'tool',
      description: `tool ${name}`,
      details: { tool: name },
      ...scope,
    })
    return {
      succeeded: async () => {
        await guard.settleSpend(ticket)
      },
      // A failed call is released, not charged; the failure feeds the error-streak detector.
      failed: async (error: unknown) => {
        await guard.releaseSpend(ticket, { reason: 'tool failed' })
        await guard.onError(error, 'tool')
      },
    }
  }

  // The SDK streams preliminary results only from an execute that returns an async iterable
  // synchronously, so a generator stays a generator (charged when it completes).
  if (Object.prototype.toString.call(execute) === '[object AsyncGeneratorFunction]') {
    return (input, options) =>
      (async function* () {
        const call = await begin()
        try {
          yield* execute(input, options) as AsyncIterable<unknown>
        } catch (error) {
          await call.failed(error)
          throw error
        }
        await call.succeeded()
      })()
  }
  return async (input, options) => {
    const call = await begin()
    let output: unknown
    try {
      output = await execute(input, options)
      if (output !== null && typeof output === 'object' && Symbol.asyncIterator in output) {
        // An async iterable from a plain function: its last value is the result.
        let last: unknown
        for await (const part of output as AsyncIterable<unknown>) last = part
        output = last
      }
    } catch (error) {
      await call.failed(error)
      throw error
    }
    await call.succeeded()
    return output
  }
}
