// Cycles: the agent goes round a fixed sequence of tool calls (A-B-A-B, A-B-C-A-B-C) with no
// new call in between, e.g. open a page, go back, open the same page. Each call alone is
// not repeated often enough for `repeated-tool-call` to stop it quickly; the pattern is.
// Calls are identified by tool name AND arguments hash: search(q1), read(u1), search(q2),
// read(u2) is progress, not a cycle. A cycle whose calls differ only by what loops vary
// (counters, ids, timestamps, case, word order: the same shape, `shape-hash.ts`) is weaker
// evidence: it trips at `normalizedTripAt` laps and asks for `normalizedAction`.
// Concurrency is not a cycle: a scope whose calls overlap is not judged (`concurrency.ts`).
// Identical cycles are looked for up to `maxPeriod` calls a lap (8: a loop over 5 paid tools
// is no less a loop than over 4); similar ones only up to `normalizedMaxPeriod` (4), since
// pagination over several sources (the next page of each in turn) is a long cycle of shapes.
// A free pause (`PAUSE_MS` idle, no spend since) ends the laps counted: a poller checking
// several jobs in turn waits between its rounds and pays nothing; a loop that sleeps between
// laps but keeps paying (a model step, a paid tool) is still counted through its sleeps. A
// free call the scope waits on as long (a `sleep` tool, a slow check) ends them too unless
// the scope has paid `PAID_LAP_FRACTION` of the cap since: a model waiting for a deployment
// with a sleep tool pays for a cheap step each lap; a loop that calls a sleep tool but pays
// 1% of the cap a lap is counted through it. One paying less is slow-loop's to stop.
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding, RunawayEvent } from '../types.js'
import {
  CLOCK_SKEW_MS,
  CONCURRENT_MODEL_CALLS,
  callEvidence,
  inScope,
  modelCallsAtOnce,
  okFinding,
  PAID_LAP_FRACTION,
  pausedAfter,
  statusOf,
  waitedOn,
} from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const TOOL_CYCLE = 'tool-cycle'

const OK = okFinding(TOOL_CYCLE)

type ActivityEvent = RunawayEvent
const same = (a: ActivityEvent, b: ActivityEvent) => a.tool === b.tool && a.hash === b.hash
const similar = (a: ActivityEvent, b: ActivityEvent) =>
  a.tool === b.tool && (a.hash === b.hash || (a.shape !== undefined && a.shape === b.shape))

/**
 * Looks for a cycle of 2 to `maxPeriod` calls (similar calls: 2 to `normalizedMaxPeriod`)
 * repeated back to back, ending with the current tool call (the window's last event), among
 * the tool calls of its run (of the agent without a run id) within `windowMs`, since the
 * scope's last free pause, or last call waited on after which it paid under
 * `PAID_LAP_FRACTION` of `capMicros` (nothing when the cap is left out). Idle that began
 * before `heldUntil`, the end of the scope's last throttle, was the throttle's wait, not a
 * pause. A partial last lap does not count as a repetition: A-B-A-B-A is two repetitions of
 * A-B. O(window) per call: at most `maxPeriod * tripAt` calls are compared, each period
 * stopping at its first mismatch.
 *
 * @example
 * // search(q) -> open(u) -> search(q) -> open(u) -> search(q) -> open(u)
 * detectToolCycle(window, now, DEFAULT_RUNAWAY_CONFIG.toolCycle).status // 'trip' (3 repetitions)
 */
export function detectToolCycle(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['toolCycle'],
  concurrent = false,
  heldUntil = Number.NEGATIVE_INFINITY,
  capMicros = 0,
): DetectorFinding {
  if (concurrent) return OK
  const current = window[window.length - 1]
  if (current?.kind !== 'tool_call' || current.hash === undefined) return OK
  // What the scope may pay since a call it waited on for the call to end the laps.
  const paidLap = Math.max(1, Math.ceil(capMicros * PAID_LAP_FRACTION))
  const runId = current.runId
  const since = now - config.windowMs
  const loosePeriod = Math.min(config.normalizedMaxPeriod, config.maxPeriod)
  // Newest first; only as many calls as the longest cycle's trip needs.
  const limit = Math.max(config.maxPeriod * config.tripAt, loosePeriod * config.normalizedTripAt)
  const calls: ActivityEvent[] = []
  let oldest = window.length - 1
  // The scope's next event and the one after it (newer: the scan goes back in time), and
  // what the scope has spent since the call being judged back to there.
  let next = current
  let afterNext: ActivityEvent | undefined
  let spent = 0
  for (let i = window.length - 1; i >= 0 && calls.length < limit; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (!inScope(event, runId)) continue
    if (event.at >= heldUntil) {
      const idle = next.at - event.at
      const paused =
        event.kind === 'tool_call'
          ? spent < paidLap && waitedOn(event, idle, next, afterNext)
          : spent === 0 && pausedAfter(event, idle)
      if (paused) break
    }
    if (event !== next) afterNext = next
    next = event
    if (event.micros !== undefined && event.micros > 0) spent += event.micros
    if (event.kind === 'tool_call') {
      calls.push(event)
      oldest = i
    }
  }
  const exact = longestCycle(calls, config.maxPeriod, same)
  const exactStatus = statusOf(exact.repetitions, config.warnAt, config.tripAt)
  let found = exact
  let status = exactStatus
  let identical = true
  if (exactStatus !== 'trip') {
    const loose = longestCycle(calls, loosePeriod, similar)
    const looseStatus = statusOf(
      loose.repetitions,
      config.normalizedWarnAt,
      config.normalizedTripAt,
    )
    if (looseStatus === 'trip' || (exactStatus === 'ok' && looseStatus === 'warn')) {
      found = loose
      status = looseStatus
      identical = false
    }
  }
  if (status === 'ok') return OK
  // Several threads at once (as in repeated-tool-call): their calls make no cycle.
  if (modelCallsAtOnce(window, oldest, runId) >= CONCURRENT_MODEL_CALLS) return OK
  const bestPeriod = found.period
  const bestRepetitions = found.repetitions
  const warnAt = identical ? config.warnAt : config.normalizedWarnAt
  const tripAt = identical ? config.tripAt : config.normalizedTripAt
  const lap = calls.slice(0, bestPeriod).reverse()
  const involved = calls.slice(0, bestPeriod * bestRepetitions).reverse()
  return {
    detector: TOOL_CYCLE,
    status,
    ...(identical ? {} : { action: config.normalizedAction }),
    summary: `the cycle ${lap.map((call) => call.tool).join(' -> ')} repeated ${bestRepetitions} times in a row${identical ? '' : ' with similar arguments (same shapes)'} (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? tripAt : warnAt})`,
    evidence: {
      match: identical ? 'identical' : 'similar',
      period: bestPeriod,
      repetitions: bestRepetitions,
      warnAt,
      tripAt,
      maxPeriod: identical ? config.maxPeriod : loosePeriod,
      windowMs: config.windowMs,
      ...(runId === undefined ? {} : { runId }),
      cycle: lap.map((call) => ({ tool: call.tool, argsHash: call.hash })),
      calls: involved.map(callEvidence),
    },
  }
}

type Match = (a: ActivityEvent, b: ActivityEvent) => boolean

/** The period (2 to maxPeriod) with the most back-to-back laps ending at the newest call. */
function longestCycle(
  calls: readonly ActivityEvent[],
  maxPeriod: number,
  match: Match,
): { period: number; repetitions: number } {
  let period = 0
  let repetitions = 0
  for (let p = 2; p <= maxPeriod && calls.length >= p * 2; p++) {
    if (allSame(calls, p, match)) continue // a period-1 loop is repeated-tool-call's to judge
    let matched = 0
    while (
      p + matched < calls.length &&
      match(calls[matched] as ActivityEvent, calls[p + matched] as ActivityEvent)
    ) {
      matched++
    }
    const laps = Math.floor((matched + p) / p)
    if (laps > repetitions) {
      repetitions = laps
      period = p
    }
  }
  return { period, repetitions }
}

function allSame(calls: readonly ActivityEvent[], period: number, match: Match): boolean {
  const first = calls[0] as ActivityEvent
  for (let i = 1; i < period; i++) if (!match(first, calls[i] as ActivityEvent)) return false
  return true
}
