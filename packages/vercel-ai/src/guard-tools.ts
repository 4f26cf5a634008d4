// Paid tools on the agent's cap: each tool's `execute` runs through the core's
// guard.runToolCall, a generator through runToolCallStream (the price held before it runs
// and charged once it ran, whether it returned or threw; a revoked agent's tools refused).
// Not observed again (`observe: false`): the middleware checked the call when the model
// asked for it. Used alone it holds prices, detects no loops.
import {
  type AdapterOptions,
  type AgentGuard,
  adapterSetup,
  type BudgetScope,
  parseToolPrices,
  runToolCallStream,
} from '@killswitch/core'
import type { ToolExecutionOptions, ToolSet } from 'ai'

/** Options of `guardTools`: the kill switch or guard, the budget scope and tool prices. */
export interface GuardToolsOptions<TOOLS extends ToolSet = ToolSet>
  extends Omit<AdapterOptions, 'toolPrices' | 'model' | 'provider'> {
  /** Dollars per call by tool name, over the kill switch's; not with a ready `guard`. */
  toolPrices?: { [NAME in keyof TOOLS]?: number }
}

type Execute = (input: unknown, options: ToolExecutionOptions<unknown>) => unknown

/**
 * Wraps tools so that paid ones count against the agent's cap and a revoked agent's tools
 * do not run. A refusal throws the core's typed error (the SDK reports it to the model as a
 * tool error; `killSwitchMiddleware` stops the run itself).
 *
 * @example
 * const tools = guardTools({ search }, { killSwitch: ks, credential, toolPrices: { search: 0.005 } })
 */
export function guardTools<TOOLS extends ToolSet>(
  tools: TOOLS,
  options: GuardToolsOptions<TOOLS>,
): TOOLS {
  // A price on a misspelled tool would leave the real tool free: refused with the fix.
  parseToolPrices(options?.toolPrices, Object.keys(tools))
  const { guard, scope } = adapterSetup(options as AdapterOptions, {
    name: 'guardTools',
    without: ['model', 'provider'],
  })
  const guarded: Record<string, unknown> = {}
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute as Execute | undefined
    // Tools without execute are run by the provider or the client UI, not here.
    guarded[name] = execute ? { ...tool, execute: wrap(guard, name, execute, scope) } : tool
  }
  return guarded as TOOLS
}

function wrap(guard: AgentGuard, name: string, execute: Execute, scope: BudgetScope): Execute {
  // Under the id the middleware checked it with: in the run and budgets of the model's call
  // that asked for it (its `providerOptions.killswitch`), where this has none of its own.
  const request = (args: unknown, options: ToolExecutionOptions<unknown> | undefined) => ({
    name,
    args,
    observe: false,
    toolCallId: options?.toolCallId,
    ...scope,
  })
  // The tool's own signal aborts on revocation too: a tool running as its agent is revoked
  // stops its side effects then, not at the run's next model step.
  const withSignal = (options: ToolExecutionOptions<unknown>) => ({
    ...options,
    abortSignal: options?.abortSignal
      ? AbortSignal.any([options.abortSignal, guard.signal])
      : guard.signal,
  })
  // The SDK streams preliminary results only from an execute that returns an async iterable
  // synchronously: a generator stays a generator.
  if (Object.prototype.toString.call(execute) === '[object AsyncGeneratorFunction]') {
    return (input, options) =>
      runToolCallStream(
        guard,
        request(input, options),
        () => execute(input, withSignal(options)) as AsyncIterable<unknown>,
      )
  }
  return (input, options) =>
    guard.runToolCall(request(input, options), async () => {
      const output = await execute(input, withSignal(options))
      if (output === null || typeof output !== 'object' || !(Symbol.asyncIterator in output)) {
        return output
      }
      // An async iterable from a plain function: its last value is the result (read no
      // further once the agent is revoked).
      let last: unknown
      for await (const part of output as AsyncIterable<unknown>) {
        guard.signal.throwIfAborted()
        last = part
      }
      return last
    })
}
