// Paid tools on the agent's cap: each tool's `execute` runs through the core's
// guard.runToolCall, which holds the tool's price before it runs and settles it after
// (released when it throws), and refuses a revoked agent's tools.
//
// Division of labour with the middleware, so that no call is counted twice: the middleware
// checks every tool call the model asks for (`call.checkToolCall`: revocation, loop
// detection) before the SDK executes it, so the run here is not observed again
// (`observe: false`). Used alone, without the middleware, it holds prices but detects no loops.
import {
  type AdapterOptions,
  type AgentGuard,
  adapterSetup,
  type BudgetScope,
  parseToolPrices,
} from '@killswitch/core'
import type { ToolExecutionOptions, ToolSet } from 'ai'

/** Options of `guardTools`. */
export type GuardToolsOptions<TOOLS extends ToolSet = ToolSet> = Omit<
  AdapterOptions,
  'toolPrices' | 'model' | 'provider'
> & {
  /**
   * Dollars per call of the paid tools, by tool name (`{ search: 0.005 }`), over the kill
   * switch's own `toolPrices`. Others are free. With a ready `guard`, give the prices to
   * `ks.guard(credential, { toolPrices })` instead.
   */
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
  // A price on a misspelled tool would leave the real tool free: refused with the fix.
  parseToolPrices(options?.toolPrices, Object.keys(tools))
  const { guard, scope } = adapterSetup(options as AdapterOptions)
  const guarded: Record<string, unknown> = {}
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute as Execute | undefined
    // Tools without execute are run by the provider or the client UI, not here.
    guarded[name] = execute ? { ...tool, execute: wrapExecute(guard, name, execute, scope) } : tool
  }
  return guarded as TOOLS
}

function wrapExecute(
  guard: AgentGuard,
  name: string,
  execute: Execute,
  scope: BudgetScope,
): Execute {
  const request = (args: unknown) => ({ name, args, observe: false, ...scope })
  // The SDK streams preliminary results only from an execute that returns an async iterable
  // synchronously, so a generator stays a generator (charged when it completes).
  if (Object.prototype.toString.call(execute) === '[object AsyncGeneratorFunction]') {
    return (input, options) =>
      (async function* () {
        const ticket = await guard.beforeToolCall(request(input))
        let ok = true
        try {
          yield* execute(input, options) as AsyncIterable<unknown>
        } catch (error) {
          ok = false
          await guard.afterToolCall(ticket, { ok, error })
          throw error
        } finally {
          // Completed, or left early by its consumer: it ran, so it is paid for.
          if (ok) await guard.afterToolCall(ticket, { ok })
        }
      })()
  }
  return (input, options) =>
    guard.runToolCall(request(input), async () => {
      const output = await execute(input, options)
      if (output === null || typeof output !== 'object' || !(Symbol.asyncIterator in output)) {
        return output
      }
      // An async iterable from a plain function: its last value is the result.
      let last: unknown
      for await (const part of output as AsyncIterable<unknown>) last = part
      return last
    })
}
