// Small helpers shared by the detectors: the frozen "ok" reading each detector returns on
// the hot path (no allocation when nothing is wrong), the status from a count and its two
// thresholds, and how one call appears in evidence (names and hashes, never values).
import type { ActivityEvent } from '../../store.js'
import type { DetectorFinding } from '../types.js'

/**
 * How far apart the clocks of processes sharing a store may be. The window is in append
 * order; a backward scan stops at the first event older than its time window by more than
 * this, instead of reading the whole window.
 */
export const CLOCK_SKEW_MS = 5_000

/**
 * A scope that stays idle this long after something ended (a result, a payment) before its
 * next call waits on purpose: a poller's sleep, a retry's backoff, a person's next message.
 * So does a free tool call lasting this long with nothing else going on (a `sleep` tool, a
 * slow status check): the scope waits on it. A loop never waits: each step starts when the
 * last one ends (the corpus loops leave at most 1.3 s). The repetition detectors count only
 * since the scope's last pause; a loop that waits is left to what it costs (slow-loop,
 * spend).
 */
export const PAUSE_MS = 2_000

/**
 * Code polling this often or less, start to start, is never a loop, however long each poll
 * takes: a free call, then its result, then the next call (no model step between) 2.5 s or
 * more after the last one started. The corpus code loops call every 0.25 s at most.
 */
export const POLL_PERIOD_MS = 2_500

/**
 * The same free call made again by code this long or more after the last one started, its
 * result between and no model step, is a poll too: `setInterval(poll, 1000)` with a timer's
 * jitter. A loop in code repeats at its call's pace, not a timer's (the corpus code loops:
 * every 0.25 s at most); an agent's loop has its model steps between. Red team rt35: a 2 s
 * poller of one status call, the commonest period, was revoked at its 5th poll.
 */
export const SAME_CALL_POLL_PERIOD_MS = 900

/**
 * Code that polls through the model sleeps between its asks: at least this long from a
 * model's answer to the next ask. A loop asks again at once (an app re-asking in a `while`,
 * an agent's reflection step before each tool step: tens of milliseconds). At 500 ms, an app
 * asking every 2 s, whose two steps took 1.55 s, was revoked (red team rt35); at 250 ms, an
 * app re-asking in a loop after a 300 ms sleep ran 60 asks (red team rt36). Between them.
 */
export const POLL_SLEEP_MS = 400

/**
 * Code that polls through the model asks again for the same call this long or more after the
 * last ask started (`POLL_PERIOD_MS` for another call), having slept `POLL_SLEEP_MS` or more
 * since the last answer: an app asking every 2 s (red team rt35), every second (red team
 * rt41a: revoked at its 6th poll at 2 s), or sleeping 0.45-0.5 s between fast asks (red team
 * rt42a: revoked at its 8th-11th at 0.9 s, as its laps fell either side). The sleep tells a
 * poll from a loop: an app re-asking at once, or after a short sleep, is still counted
 * (`POLL_SLEEP_MS`: the 0.3 s re-ask loop of rt36), and a poll that pays a tool each time is
 * counted whatever its pace.
 */
export const MODEL_POLL_PERIOD_MS = 500

/**
 * Whether `event`, `idleMs` before the next event of its scope (`next`, when the caller
 * knows it; `afterNext`, the one after it), ended a pause: idle time after something ended;
 * or a free tool call waited on (its own result next, no payment between) for `PAUSE_MS`, or
 * polled by code `POLL_PERIOD_MS` or more before the next call started
 * (`SAME_CALL_POLL_PERIOD_MS` before the same call again, with no model step of any run
 * between). Never while a model of no run worked between them (`model`, ModelBetween).
 */
export function pausedAfter(
  event: ActivityEvent,
  idleMs: number,
  next?: ActivityEvent,
  afterNext?: ActivityEvent,
  model: ModelSeen = NO_MODEL,
): boolean {
  if (model === RUNLESS_MODEL) return false
  if (event.kind !== 'tool_call') return idleMs >= PAUSE_MS && event.kind !== 'model_call'
  return waitedOn(event, idleMs, next, afterNext, model)
}

/**
 * Whether tool call `event`, `idleMs` before the next event of its scope (`next`, then
 * `afterNext`), was a free call the scope waited on: its own result next (a paid call's
 * payment comes between: waiting on a paid call is work) after `PAUSE_MS` or more, or the
 * next call started `POLL_PERIOD_MS` or more after it with only its result between.
 */
function waitedOn(
  event: ActivityEvent,
  idleMs: number,
  next: ActivityEvent | undefined,
  afterNext: ActivityEvent | undefined,
  model: ModelSeen = NO_MODEL,
): boolean {
  if (event.kind !== 'tool_call' || next?.kind !== 'tool_result' || next.tool !== event.tool)
    return false
  if (idleMs >= PAUSE_MS) return true
  if (afterNext?.kind !== 'tool_call') return false
  const period = afterNext.at - event.at
  if (period >= POLL_PERIOD_MS) return true
  // Code's timer, not a model in another run asking each lap (red team rt37: the model in run
  // chat-1, the tools in job-1, a loop of 1.2 s laps ran 113 calls).
  const sameCall = afterNext.tool === event.tool && afterNext.hash === event.hash
  return (
    sameCall && event.hash !== undefined && period >= SAME_CALL_POLL_PERIOD_MS && model === NO_MODEL
  )
}

/** Which model steps of the agent came between events of a scope, out of it (ModelBetween). */
export type ModelSeen = 0 | 1 | 2
/** None; one of another run; one of no run (the worst: it works for the scope). */
export const NO_MODEL = 0
const OTHER_RUN_MODEL = 1
const RUNLESS_MODEL = 2

/**
 * A loop whose lap pays at least this fraction of the cap is counted by tool-cycle through
 * the calls it waits on (a sleep tool, a slow check), as any paying loop is through idle
 * sleeps. One paying less a lap is left to slow-loop, which stops it at its 5th lap or once
 * it has spent 3% of the cap, whichever comes later: under 5% of the cap either way.
 */
export const PAID_LAP_FRACTION = 0.01

/** The shared "nothing wrong" reading of a detector. */
export function okFinding(detector: string): DetectorFinding {
  return Object.freeze({ detector, status: 'ok' }) as DetectorFinding
}

/** `trip` at or above `tripAt`, else `warn` at or above `warnAt`, else `ok`. */
export function statusOf(value: number, warnAt: number, tripAt: number): DetectorFinding['status'] {
  if (value >= tripAt) return 'trip'
  return value >= warnAt ? 'warn' : 'ok'
}

/** One call as evidence shows it. */
export interface CallEvidence {
  at: number
  kind: ActivityEvent['kind']
  tool?: string
  argsHash?: string
  runId?: string
}

export function callEvidence(event: ActivityEvent): CallEvidence {
  const call: CallEvidence = { at: event.at, kind: event.kind }
  if (event.tool !== undefined) call.tool = event.tool
  if (event.hash !== undefined) call.argsHash = event.hash
  if (event.runId !== undefined) call.runId = event.runId
  return call
}

/**
 * Whether the agent's model worked between events of a run's scope, out of it: a model call
 * or result of no run, as from a model guarded without the run id its tools carry (AI SDK
 * `guardTools({ runId })` beside a middleware given none). The run's tools then wait on the
 * model, not on a timer: no pause, no poll (red team rt36: such a loop, each model step 1 s,
 * was never stopped once a poll was the same call again 0.9 s apart). Fed going back in time.
 */
export class ModelBetween {
  #gap: ModelSeen = NO_MODEL
  #before: ModelSeen = NO_MODEL

  /** An event out of the scope. */
  outside(event: ActivityEvent): void {
    if (event.kind !== 'model_call' && event.kind !== 'model_result') return
    const seen = event.runId === undefined ? RUNLESS_MODEL : OTHER_RUN_MODEL
    if (seen > this.#gap) this.#gap = seen
  }

  /** What worked between the scope's event being judged and the one two after it. */
  get worked(): ModelSeen {
    return this.#gap > this.#before ? this.#gap : this.#before
  }

  /** The scope's event judged, now its next one (`shifted`) or the same. */
  pass(shifted: boolean): void {
    if (shifted) this.#before = this.#gap
    this.#gap = NO_MODEL
  }
}

/** Whether `event` belongs to the scope of a detector looking at run `runId` (all when undefined). */
export function inScope(event: ActivityEvent, runId: string | undefined): boolean {
  return runId === undefined || event.runId === runId
}

/** `12.5 s`, `3 min` for summaries. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`
  if (ms < 3_600_000) return `${Math.round(ms / 6_000) / 10} min`
  return `${Math.round(ms / 360_000) / 10} h`
}

/** Model calls at once (in one scope) from which the scope runs several threads. */
export const CONCURRENT_MODEL_CALLS = 3

/**
 * The most model calls of run `runId` (the whole agent when undefined) in flight at once
 * over `window[from..]`, counted forward from `from` (calls already in flight there are not
 * seen: it errs towards fewer). A loop, even beside one long stream, has at most 2; an
 * agent serving many conversations, or workers in several processes, have more.
 */
export function modelCallsAtOnce(
  window: readonly ActivityEvent[],
  from: number,
  runId: string | undefined,
): number {
  let depth = 0
  let most = 0
  for (let i = Math.max(0, from); i < window.length; i++) {
    const event = window[i] as ActivityEvent
    if (runId !== undefined && event.runId !== runId) continue
    if (event.kind === 'model_call') {
      if (++depth > most) most = depth
    } else if ((event.kind === 'model_result' || event.kind === 'error') && depth > 0) depth--
  }
  return most
}
