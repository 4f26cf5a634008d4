// Repeated tool call: the same tool with the same arguments again and again, the commonest
// loop (the model did not take in the result, or the result tells it nothing new). Two
// grades of evidence:
// - identical arguments (canonical JSON, key order ignored): a loop beyond doubt at
//   `tripAt` within `windowMs`; the default revokes;
// - similar arguments (same shape: only numbers, ids, timestamps, case, spacing or word
//   order differ, `shape-hash.ts`): a loop hiding behind a counter, or honest pagination,
//   which look alike; `normalizedTripAt` (higher) asks for `normalizedAction` (a throttle).
// Concurrency is not a loop: a loop waits for each result before it asks again. So the calls
// of a scope whose calls overlap (a fan-out, a worker pool, many conversations without run
// ids: `concurrency.ts`, or three model calls at once in the shared window, which shows the
// other processes too) are not judged, and calls with nothing in between, no model step,
// result or payment (the parallel tool calls of one model step), count once.
// Neither is a retry a loop: a call after its own failure, with no model step between, is
// the same attempt again (error-streak judges retry storms); and calls before a pause of the
// scope (`PAUSE_MS`: a poller's sleep, a backoff, a sleep tool) are not counted: a loop never
// waits. Nor is code polling through the model: the same status call in each ask, the asks
// `POLL_PERIOD_MS` or more apart, each ending its turn, and a sleep (`POLL_SLEEP_MS`) before
// the next: an app re-asking at once, or an agent's reflection step, is still a loop. Nor is a check repeated between new pieces of work: a coding agent edits a file,
// runs the same `npm test`, edits another... A call new to the scope's recent calls (neither
// its arguments nor their shape seen since the oldest call counted) between two repeats ends
// the count; a call between them that repeats too (A-B-A-B, a note with a counter) does not.
// Nor is the same lookup in each new task: a worker answering ticket after ticket with no run
// id calls the same policy tool for each. A turn that ended with a new answer between two
// repeats ends the count (newTurns); an app re-asking the same question (a counter in it, or
// reworded) gets the same answer, and is counted.
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding, RunawayEvent } from '../types.js'
import {
  CLOCK_SKEW_MS,
  CONCURRENT_MODEL_CALLS,
  callEvidence,
  inScope,
  MODEL_POLL_PERIOD_MS,
  ModelBetween,
  modelCallsAtOnce,
  okFinding,
  POLL_PERIOD_MS,
  POLL_SLEEP_MS,
  pausedAfter,
  statusOf,
} from './finding.js'

/**
 * New paid work between paid repeats excuses them when it costs 1/PAID_WORK_SHARE of one:
 * a research agent's $0.001 search before a $0.02 paper is a twentieth (red team rt38:
 * throttled at 1/10), a stuck model's $0.001 note before a $0.05 page a fiftieth (rt37).
 */
const PAID_WORK_SHARE = 25

/** The detector's name in findings, events and audit entries. */
export const REPEATED_TOOL_CALL = 'repeated-tool-call'

const OK = okFinding(REPEATED_TOOL_CALL)

/**
 * Counts how often the current tool call (the window's last event) appears among the last
 * `withinCalls` tool calls of its run (of the agent when there is no run id) within
 * `windowMs`, itself included: identical arguments against `warnAt`/`tripAt`, the same
 * shape against `normalizedWarnAt`/`normalizedTripAt`, since the scope's last pause (idle
 * that began before `heldUntil`, the end of the scope's last throttle, was the throttle's
 * wait, not a pause). Returns ok when the scope's calls overlap (`concurrent`).
 *
 * @example
 * const finding = detectRepeatedToolCall(window, Date.now(), DEFAULT_RUNAWAY_CONFIG.repeatedToolCall)
 * if (finding.status === 'trip') console.log(finding.summary) // search called 5 times with the same arguments...
 */
export function detectRepeatedToolCall(
  window: readonly RunawayEvent[],
  now: number,
  config: ResolvedRunawayConfig['repeatedToolCall'],
  concurrent = false,
  heldUntil = Number.NEGATIVE_INFINITY,
): DetectorFinding {
  if (concurrent) return OK
  const last = window.length - 1
  const current = window[last]
  if (current?.kind !== 'tool_call' || current.hash === undefined) return OK
  const { runId, tool, hash, shape } = current
  const since = now - config.windowMs
  let counted = countRepeats(window, since, config, heldUntil, undefined)
  if (isOk(counted, config)) return OK
  // Only when it would warn or trip: are the repeats separated by new work? (A second scan
  // of at most `withinCalls` calls, never on the hot path of calls that do not repeat.)
  const fresh = newCalls(window, counted.oldest, since, current)
  // A run groups a task's calls: only a scope without one is told its tasks apart by turns.
  const turns = current.runId === undefined ? newTurns(window, since) : NO_TURNS
  if (fresh.size > 0 || turns.size > 0) {
    counted = countRepeats(window, since, config, heldUntil, fresh, turns)
  }
  if (isOk(counted, config)) return OK
  const { seen, exact, similar, oldest } = counted
  const exactStatus = statusOf(exact, config.warnAt, config.tripAt)
  const similarStatus = statusOf(similar, config.normalizedWarnAt, config.normalizedTripAt)
  if (exactStatus === 'ok' && similarStatus === 'ok') return OK
  // Three model calls at once in the window: the scope runs several threads (workers in
  // other processes too), and its repeated calls are no loop. Only counted when it matters.
  if (modelCallsAtOnce(window, oldest, runId) >= CONCURRENT_MODEL_CALLS) return OK
  // Identical evidence wins unless only the similar calls trip.
  const identical = exactStatus === 'trip' || (exactStatus === 'warn' && similarStatus !== 'trip')
  const status = identical ? exactStatus : similarStatus
  const count = identical ? exact : similar
  const warnAt = identical ? config.warnAt : config.normalizedWarnAt
  const tripAt = identical ? config.tripAt : config.normalizedTripAt
  const calls = []
  for (let i = 0; i <= last; i++) {
    const event = window[i] as RunawayEvent
    if (event.kind !== 'tool_call' || event.tool !== tool || event.at <= since) continue
    if (!inScope(event, runId)) continue
    if (identical ? event.hash === hash : event.shape === shape || event.hash === hash)
      calls.push(callEvidence(event))
  }
  const what = identical ? 'the same arguments' : 'similar arguments (same shape)'
  return {
    detector: REPEATED_TOOL_CALL,
    status,
    ...(identical ? {} : { action: config.normalizedAction }),
    summary: `${tool} called ${count} times with ${what} in its last ${seen} tool calls (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? tripAt : warnAt})${runId === undefined && !identical ? NO_RUN_HINT : ''}`,
    evidence: {
      tool,
      match: identical ? 'identical' : 'similar',
      argsHash: hash,
      ...(identical || shape === undefined ? {} : { shape }),
      count,
      warnAt,
      tripAt,
      withinCalls: config.withinCalls,
      windowMs: config.windowMs,
      ...(runId === undefined ? {} : { runId }),
      calls: calls.slice(-count),
    },
  }
}

/**
 * Said of a similar-arguments finding made without a run id: a worker doing separate tasks
 * that each call the same tool on another id and end alike looks like one loop then (red
 * team rt28: a templated worker throttled at its 11th task, the message not saying why or
 * what to do). Not of identical calls: those are a loop whatever the run.
 */
const NO_RUN_HINT = '; no run id: if these are separate tasks, give each its own runId'

interface Repeats {
  /** Tool calls of the scope scanned. */
  seen: number
  /** Of them, identical to the current call (itself included)... */
  exact: number
  /** ...and of its shape, identical ones included. */
  similar: number
  /** The index of the oldest tool call scanned. */
  oldest: number
}

function isOk(counted: Repeats, config: ResolvedRunawayConfig['repeatedToolCall']): boolean {
  return counted.exact < config.warnAt && counted.similar < config.normalizedWarnAt
}

/**
 * Counts the repeats of the current call (the window's last event) back in time, as the
 * file comment says; with `fresh` (indices of new calls), stops at the first repeat older
 * than one of them.
 */
function countRepeats(
  window: readonly RunawayEvent[],
  since: number,
  config: ResolvedRunawayConfig['repeatedToolCall'],
  heldUntil: number,
  fresh: ReadonlySet<number> | undefined,
  turns?: ReadonlySet<number>,
): Repeats {
  const last = window.length - 1
  const current = window[last] as RunawayEvent
  const { runId, tool, hash, shape } = current
  let seen = 0
  let exact = 0
  let similar = 0
  // Whether the scan has passed a step boundary since the last counted repetition.
  let separated = true
  // Whether it has passed a new call since the last counted repetition, and the most a new
  // paid one paid.
  let progressed = false
  let paidProgress = 0
  let oldest = last
  // The scope's next event and the one after it (newer: the scan goes back in time).
  let next = current
  let afterNext: RunawayEvent | undefined
  // When the last counted repetition started, and whether the scope's turn ended since: a
  // model result followed, after a sleep (`POLL_SLEEP_MS`), by a model call, no tool asked
  // between (a framework's run ends at a step that asks for no tool; the app asked again).
  let repeatedAt = current.at
  let turnEnded = false
  // Whether it has passed the start of a turn after new work (`turns`, newTurns).
  let newTurn = false
  const model = new ModelBetween()
  for (let i = last; i >= 0 && seen < config.withinCalls; i--) {
    const event = window[i] as RunawayEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (runId !== undefined && event.runId !== runId) {
      model.outside(event)
      continue
    }
    const idle = next.at - event.at
    if (event.at >= heldUntil && pausedAfter(event, idle, next, afterNext, model.worked)) break
    model.pass(event !== next)
    if (event.kind === 'model_result' && next.kind === 'model_call') {
      if (next.at - event.at >= POLL_SLEEP_MS) turnEnded = true
    }
    if (turns?.has(i)) newTurn = true
    if (event !== next) afterNext = next
    next = event
    if (event.kind !== 'tool_call') {
      // Another tool's result is a parallel call's; a failed result of this tool is followed
      // by its retry: neither ends the step.
      if (event.kind !== 'tool_result' || (event.tool === tool && event.ok !== false))
        separated = true
      continue
    }
    oldest = i
    seen++
    if (fresh?.has(i)) {
      progressed = true
      // Paid: its payment follows it (afterNext, the scope's event after it).
      if (afterNext?.kind === 'spend') paidProgress = Math.max(paidProgress, afterNext.micros ?? 0)
    }
    if (event.tool !== tool) continue
    const identical = event.hash === hash
    if (!identical && (shape === undefined || event.shape !== shape)) continue
    if (i !== last && !separated) continue
    // New work between excuses a free repeat (the same `npm test` after each edit), and a
    // paid one on other arguments of the same shape when the new work was paid too (a
    // research agent's next paper after a new search: red team rt35 throttled it at its 10th);
    // not a note a stuck model words anew before each paid page, free or paid a penny (red
    // teams rt36, rt37: to the cap), nor the same paid call again (its payment follows it):
    // money spent again. New paid work is the search that found the paper: it costs a
    // meaningful share of the paper (PAID_WORK_SHARE), which a penny note does not.
    const paid = afterNext?.kind === 'spend' ? (afterNext.micros ?? 0) : 0
    if (progressed && (paid === 0 || (!identical && paidProgress * PAID_WORK_SHARE >= paid))) break
    // A turn that ended with a new answer between, paid or not: the same lookup for the next
    // ticket is the next ticket's work (a loop re-asking gets the same answer: counted).
    if (newTurn) break
    // Asked again by code after the turn ended and a sleep, POLL_PERIOD_MS or more after this
    // call started (MODEL_POLL_PERIOD_MS for the same call): a poll with a model step in
    // it (the app asks "is the job done?" every few seconds, the model calls the status
    // tool). An app re-asking at once does not sleep. A paid call is paid for each time:
    // counted, as a code poller's is.
    const period = identical ? MODEL_POLL_PERIOD_MS : POLL_PERIOD_MS
    if (turnEnded && repeatedAt - event.at >= period && afterNext?.kind !== 'spend') break
    turnEnded = false
    repeatedAt = event.at
    separated = false
    if (identical) exact++
    else similar++
  }
  // `similar` counts the calls of the same shape that are not identical; the shape tier
  // judges both together.
  return { seen, exact, similar: similar + exact, oldest }
}

/**
 * The indices of the scope's tool calls from `oldest` to the current call (excluded) that
 * were new when made: neither their arguments nor their shape (per tool) seen since
 * `oldest`, and not of the current call's shape; nor seen again after (a call a loop cycles
 * through is no new work, though its first time looked new: red team rt36, a scraper cycling
 * three searches between its pages). The oldest call is new by definition, as nothing
 * before it is looked at: at worst the count loses one lap.
 */
function newCalls(
  window: readonly RunawayEvent[],
  oldest: number,
  since: number,
  current: RunawayEvent,
): Set<number> {
  const fresh = new Set<number>()
  // Each call's arguments and shape (per tool): where the first call of them was.
  const first = new Map<string, number>()
  const { runId } = current
  for (let i = oldest; i < window.length - 1; i++) {
    const event = window[i] as RunawayEvent
    if (event.kind !== 'tool_call' || event.at <= since) continue
    if (runId !== undefined && event.runId !== runId) continue
    const byHash = `${event.tool}\u0000${event.hash}`
    const byShape = `${event.tool}\u0001${event.shape ?? event.hash}`
    const earlier = first.get(byHash) ?? first.get(byShape)
    if (!first.has(byHash)) first.set(byHash, i)
    if (!first.has(byShape)) first.set(byShape, i)
    if (earlier !== undefined) {
      // Made again: its first time was no new work either.
      fresh.delete(earlier)
      continue
    }
    const ofCurrent =
      event.tool === current.tool &&
      (event.hash === current.hash || (event.shape !== undefined && event.shape === current.shape))
    if (!ofCurrent) fresh.add(i)
  }
  return fresh
}

const NO_TURNS: ReadonlySet<number> = new Set()

/**
 * The indices of the agent's model calls since `since` (a scope without runs) that start a
 * turn after new work: the
 * step before (from its model call to this one) asked for no tool (the turn ended, an app
 * asked again) and gave an answer not seen before it in the window (its hash, which holds
 * the turn it answers). A worker answering ticket after ticket with no run id calls the same
 * lookup in each and answers each differently; an app re-asking the same question (with a
 * counter, a reworded prompt) gets the same answer from the same lookup, and is counted.
 * A step's tool calls may come before its answer (checked as they stream) or after it.
 */
function newTurns(window: readonly RunawayEvent[], since: number): Set<number> {
  const fresh = new Set<number>()
  const answers = new Set<string>()
  // The step since the scope's last model call: its answer new, and whether it asked a tool.
  let newAnswer = false
  let askedTool = false
  for (let i = 0; i < window.length - 1; i++) {
    const event = window[i] as RunawayEvent
    if (event.at <= since) continue
    if (event.kind === 'model_call') {
      if (newAnswer && !askedTool) fresh.add(i)
      newAnswer = false
      askedTool = false
    } else if (event.kind === 'tool_call') {
      askedTool = true
    } else if (event.kind === 'model_result' && event.hash !== undefined) {
      newAnswer = !answers.has(event.hash)
      answers.add(event.hash)
    }
  }
  return fresh
}
