// Mastra logs every error that ends an agent run, with its stack and fields, once per layer
// ("Error in LLM execution", then "Error in agent stream"). A kill switch refusal is not a
// fault: the caller gets the typed error and the audit log has the details. This filter for
// Mastra's ConsoleLogger turns each refusal into one line and passes everything else on.
import { findKillSwitchError } from '@killswitch/core'
import type { LogFilter, LogFilterContext } from '@mastra/core/logger'

/** Options of {@link killSwitchLogFilter}. */
export interface KillSwitchLogFilterOptions {
  /** Your own filter, applied to everything that is not a kill switch refusal. */
  next?: LogFilter
  /** Where the one line per refusal goes; defaults to `console.warn`. */
  report?: (line: string) => void
}

/**
 * A `filter` for Mastra's `ConsoleLogger`: a kill switch refusal (revoked, over the cap,
 * runaway...) is logged as one line, once, however many layers of Mastra log it; other
 * entries go through `next` (or are logged as usual).
 *
 * @example
 * import { ConsoleLogger } from '@mastra/core/logger'
 * new Mastra({ agents: { agent }, logger: new ConsoleLogger({ filter: killSwitchLogFilter() }) })
 */
export function killSwitchLogFilter(options: KillSwitchLogFilterOptions = {}): LogFilter {
  const report = options.report ?? ((line: string) => console.warn(line))
  // Refusal -> the runs it was reported for: one error object can refuse several runs (a
  // revoked agent's guard refuses every call with the same AgentRevokedError).
  const reported = new WeakMap<object, Set<unknown>>()
  return (context: LogFilterContext) => {
    const refusal = refusalIn(context.args)
    if (refusal === undefined) return options.next?.(context) ?? true
    const runs = reported.get(refusal) ?? new Set<unknown>()
    reported.set(refusal, runs)
    const runId = runIdIn(context.args)
    if (!runs.has(runId)) {
      runs.add(runId)
      const handle = (refusal as { handle?: unknown }).handle
      const who = typeof handle === 'string' ? ` (agent ${handle})` : ''
      report(`[killswitch] ${refusal.name} ${refusal.code}${who}: ${refusal.message}`)
    }
    return false
  }
}

// Mastra logs `(message, { error, runId, ... })`: findKillSwitchError follows `error` and
// `cause` too.
const refusalIn = (args: readonly unknown[]) =>
  args.map((arg) => findKillSwitchError(arg)).find((found) => found !== undefined)

const runIdIn = (args: readonly unknown[]) =>
  args.map((arg) => (arg as { runId?: unknown } | null)?.runId).find((id) => id !== undefined)
