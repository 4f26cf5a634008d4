// Cycles: the agent goes round a fixed sequence of tool calls (A-B-A-B, A-B-C-A-B-C) with no
// new call in between, e.g. open a page, go back, open the same page. Each call alone is
// not repeated often enough for `repeated-tool-call` to stop it quickly; the pattern is.
// Calls are identified by tool name AND arguments hash: search(q1), read(u1), search(q2),
// read(u2) is progress, not a cycle. A cycle whose calls differ only by what loops vary
// (counters, ids, timestamps, case, word order: the same shape, `shape-hash.ts`) is weaker
// evidence: it trips at `normalizedTripAt` laps and asks for `normalizedAction`. Unless it is
// a walk: two calls a lap, every call of its laps new (no tool and arguments seen twice), as
// an agent lists page 1, 2, 3... and opens issue 101, 205, 317... between. Each of its two
// shapes is every other call, so repeated-tool-call's similar tier counts it exactly as it
// counts one tool paging (10 of a shape among its last 20 calls: 10 laps), and judges it: at
// 4 laps here an honest walk was throttled at its 8th call. That tier counts only since the
// scope's last pause; a walk whose laps go on past one (a paying loop that sleeps) is judged
// here, at as many laps (`WALK_LAPS`). A lap in which a call comes back (the same search with
// a note with a counter between, page 1 again) is a loop hiding behind a counter: 4 laps.
// Laps of 3 or 4 new calls stay at 4: that tier sees at most 7 of a shape among 20 calls.
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
  ModelBetween,
  modelCallsAtOnce,
  okFinding,
  PAID_LAP_FRACTION,
  pausedAfter,
  statusOf,
} from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const TOOL_CYCLE = 'tool-cycle'

const OK = okFinding(TOOL_CYCLE)

/**
 * Laps at which a walk (the file comment) trips when they go on past a pause: the 10 calls of
 * one shape at which repeated-tool-call throttles one tool paging (`normalizedTripAt` when
 * that is higher). It warns as many laps before as `normalizedWarnAt` is before
 * `normalizedTripAt`, at least one.
 */
export const WALK_LAPS = 10

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
 * A-B. A walk (two similar calls a lap, every call new) is left to repeated-tool-call while
 * its laps all follow the scope's last pause, paid through or not; past one, it trips at
 * `WALK_LAPS`. O(window) per call: at most `maxPeriod * tripAt` calls are compared (or
 * `2 * WALK_LAPS`, whichever is more), each period stopping at its first mismatch.
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
  const walkTripAt = Math.max(WALK_LAPS, config.normalizedTripAt)
  // Newest first; only as many calls as the longest cycle's trip needs.
  const limit = Math.max(
    config.maxPeriod * config.tripAt,
    loosePeriod * config.normalizedTripAt,
    2 * walkTripAt,
  )
  const calls: ActivityEvent[] = []
  let oldest = window.length - 1
  // The scope's next event and the one after it (newer: the scan goes back in time), and
  // what the scope has spent since the call being judged back to there.
  let next = current
  let afterNext: ActivityEvent | undefined
  let spent = 0
  // How many of the calls are newer than the scope's last pause, paid through or not (where
  // repeated-tool-call's count starts); -1 while none is passed.
  let sincePause = -1
  const model = new ModelBetween()
  for (let i = window.length - 1; i >= 0 && calls.length < limit; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (!inScope(event, runId)) {
      model.outside(event)
      continue
    }
    const worked = model.worked
    model.pass(event !== next)
    if (event.at >= heldUntil) {
      const idle = next.at - event.at
      const rested = pausedAfter(event, idle, next, afterNext, worked)
      if (rested && (event.kind === 'tool_call' ? spent < paidLap : spent === 0)) break
      if (rested && sincePause < 0) sincePause = calls.length
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
  let walk = false
  let looseWarnAt = config.normalizedWarnAt
  let looseTripAt = config.normalizedTripAt
  if (exactStatus !== 'trip') {
    const loose = longestCycle(calls, loosePeriod, similar)
    const span = loose.period * loose.repetitions
    // (Only when it would warn: the hot path of calls that make no cycle adds nothing.)
    walk = loose.repetitions >= config.normalizedWarnAt && isWalk(calls, loose)
    if (walk) {
      looseTripAt = walkTripAt
      looseWarnAt = Math.max(
        config.normalizedWarnAt,
        walkTripAt - Math.max(1, config.normalizedTripAt - config.normalizedWarnAt),
      )
    }
    // A walk all after the last pause is all in repeated-tool-call's count: its to judge.
    const aside = walk && (sincePause < 0 || span <= sincePause)
    const looseStatus = aside ? 'ok' : statusOf(loose.repetitions, looseWarnAt, looseTripAt)
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
  const warnAt = identical ? config.warnAt : looseWarnAt
  const tripAt = identical ? config.tripAt : looseTripAt
  const lap = calls.slice(0, bestPeriod).reverse()
  const involved = calls.slice(0, bestPeriod * bestRepetitions).reverse()
  return {
    detector: TOOL_CYCLE,
    status,
    ...(identical ? {} : { action: config.normalizedAction }),
    summary: `the cycle ${lap.map((call) => call.tool).join(' -> ')} repeated ${bestRepetitions} times in a row${identical ? '' : ' with similar arguments (same shapes)'}${walk && !identical ? ', every call new, through a pause' : ''} (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? tripAt : warnAt})`,
    evidence: {
      match: identical ? 'identical' : 'similar',
      ...(walk && !identical ? { walk: true } : {}),
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

/**
 * Whether a cycle of similar calls is a walk (the file comment): two calls a lap, and no call
 * of its laps (the newest in `calls`) with the tool and arguments of another.
 */
function isWalk(
  calls: readonly ActivityEvent[],
  cycle: { period: number; repetitions: number },
): boolean {
  if (cycle.period !== 2) return false
  const seen = new Set<string>()
  const span = cycle.period * cycle.repetitions
  for (let i = 0; i < span; i++) {
    const call = calls[i] as ActivityEvent
    const key = `${call.tool}\u0000${call.hash}`
    if (seen.has(key)) return false
    seen.add(key)
  }
  return true
}

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
