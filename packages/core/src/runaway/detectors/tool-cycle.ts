// Cycles: the agent goes round a fixed sequence of tool calls (A-B-A-B, A-B-C-A-B-C) with no
// new call in between, e.g. open a page, go back, open the same page. Each call alone is
// not repeated often enough for `repeated-tool-call` to stop it quickly; the pattern is.
// Calls are identified by tool name AND arguments hash: search(q1), read(u1), search(q2),
// read(u2) is progress, not a cycle.
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { CLOCK_SKEW_MS, callEvidence, inScope, okFinding, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const TOOL_CYCLE = 'tool-cycle'

const OK = okFinding(TOOL_CYCLE)

const same = (a: ActivityEvent, b: ActivityEvent) => a.tool === b.tool && a.hash === b.hash

/**
 * Looks for a cycle of 2 to `maxPeriod` distinct calls repeated back to back, ending with
 * the current tool call (the window's last event), among the tool calls of its run (of the
 * agent without a run id) within `windowMs`. A partial last lap does not count as a
 * repetition: A-B-A-B-A is two repetitions of A-B.
 *
 * @example
 * // search(q) -> open(u) -> search(q) -> open(u) -> search(q) -> open(u)
 * detectToolCycle(window, now, DEFAULT_RUNAWAY_CONFIG.toolCycle).status // 'trip' (3 repetitions)
 */
export function detectToolCycle(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['toolCycle'],
): DetectorFinding {
  const current = window[window.length - 1]
  if (current?.kind !== 'tool_call' || current.hash === undefined) return OK
  const runId = current.runId
  const since = now - config.windowMs
  // Newest first; only as many calls as the longest cycle's trip needs.
  const limit = config.maxPeriod * config.tripAt
  const calls: ActivityEvent[] = []
  for (let i = window.length - 1; i >= 0 && calls.length < limit; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (event.kind === 'tool_call' && inScope(event, runId)) calls.push(event)
  }
  let bestPeriod = 0
  let bestRepetitions = 0
  for (let period = 2; period <= config.maxPeriod && calls.length >= period * 2; period++) {
    if (allSame(calls, period)) continue // a period-1 loop is repeated-tool-call's to judge
    let matched = 0
    while (
      period + matched < calls.length &&
      same(calls[matched] as ActivityEvent, calls[period + matched] as ActivityEvent)
    ) {
      matched++
    }
    const repetitions = Math.floor((matched + period) / period)
    if (repetitions > bestRepetitions) {
      bestRepetitions = repetitions
      bestPeriod = period
    }
  }
  const status = statusOf(bestRepetitions, config.warnAt, config.tripAt)
  if (status === 'ok') return OK
  const lap = calls.slice(0, bestPeriod).reverse()
  const involved = calls.slice(0, bestPeriod * bestRepetitions).reverse()
  return {
    detector: TOOL_CYCLE,
    status,
    summary: `the cycle ${lap.map((call) => call.tool).join(' -> ')} repeated ${bestRepetitions} times in a row (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? config.tripAt : config.warnAt})`,
    evidence: {
      period: bestPeriod,
      repetitions: bestRepetitions,
      warnAt: config.warnAt,
      tripAt: config.tripAt,
      maxPeriod: config.maxPeriod,
      windowMs: config.windowMs,
      ...(runId === undefined ? {} : { runId }),
      cycle: lap.map((call) => ({ tool: call.tool, argsHash: call.hash })),
      calls: involved.map(callEvidence),
    },
  }
}

function allSame(calls: readonly ActivityEvent[], period: number): boolean {
  const first = calls[0] as ActivityEvent
  for (let i = 1; i < period; i++) if (!same(first, calls[i] as ActivityEvent)) return false
  return true
}
