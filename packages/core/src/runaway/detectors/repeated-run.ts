// Repeated runs: a loop that starts a new run each lap (an outer retry loop around
// `agent.invoke`, a queue redelivering the same failing job). Each run alone is short and
// the per-run detectors see one lap; the agent sees the same run again and again.
// Judged by `repeated-tool-call` (its thresholds and action): `tripAt` runs in a row, back to
// back, each with the same tool calls (identical arguments, in the same order) and the same
// model outputs as one of the `RECENT_RUNS` (4) runs before it, trip at the next run's first
// call. Compared with several, not only the last: a loop alternating two kinds of lap
// (A, B, A, B...) repeats no run just before it, but every run from the third on is one seen.
// A model words its answers a little differently each time (temperature), so runs that PAY
// (a paid tool, a payment) are also compared by their tool calls alone: the same paid calls
// run after run, back to back, is a loop whatever the wording; weaker evidence than identical
// runs, it asks for repeated-tool-call's `normalizedAction` (a throttle) at the same count.
// Honest work that runs one run after another does not repeat whole runs: a queue worker's
// jobs differ (ids, outputs), a classifier's runs make no tool call (the same label to many
// requests is not a loop), and a scheduled job or a poller waits between its runs (a pause,
// `PAUSE_MS`). Runs that overlap (conversations, workers) are several threads, not one: a run
// starting while the last one still has a call in flight, or seen again after another
// began, stops the count for a minute.
//
// Kept in process memory (a run executes in one process), O(1) per event: a fingerprint of
// the current run and of the last 4, and the run ids recently ended.
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding, RunawayEvent } from '../types.js'
import {
  MODEL_POLL_PERIOD_MS,
  okFinding,
  PAUSE_MS,
  POLL_SLEEP_MS,
  pausedAfter,
  statusOf,
} from './finding.js'
import { REPEATED_TOOL_CALL } from './repeated-tool-call.js'

const OK = okFinding(REPEATED_TOOL_CALL)
/** Ended run ids remembered to notice a run resuming (runs overlapping); cleared when full. */
const MAX_ENDED = 64
/** How long the count stands aside after runs overlapped. */
const OVERLAP_MS = 60_000
const FNV_OFFSET = 0x811c9dc5
/** Ended runs a new run is compared with: the same as any of them counts as a repeat. */
export const RECENT_RUNS = 4

/**
 * @example
 * const runs = new RunStreak()
 * const before = runs.see(event) // at a run's first event: identical runs just before it
 */
export class RunStreak {
  #run: string | undefined
  /** FNV-1a over the current run's tool calls (name, arguments hash) and model outputs. */
  #print = FNV_OFFSET
  /** FNV-1a over the current run's tool calls alone. */
  #callPrint = FNV_OFFSET
  /**
   * The print of the model-only runs just ended (no tool call), carried into the next run's:
   * a loop whose model and tools run in runs of their own (a LangChain callback handler with
   * no run id: a run per `invoke`) is one run each lap, its model's plan with its tool's calls
   * (red team rt37: such a loop paid the same search 338 times, to the cap). A queue's model
   * runs answer different tickets, so the lookup after each is another run.
   */
  #carry: number | undefined
  /** Whether the current run paid for something besides model calls (a paid tool). */
  #paid = false
  /** Whether the current run's first model output (its plan for its ask) is folded in. */
  #asked = false
  #calls = 0
  /** The current run's model calls still waiting for their result. */
  #open = 0
  /**
   * Its tool calls still waiting for theirs: until the run's next model call, which is made
   * with their results. A framework whose tool results are never reported (the AI SDK's
   * middleware without guardTools) left them open for good, and every next run read as
   * overlapping it, so never compared (red team rt42a: a loop ran to the cap).
   */
  #toolsOpen = 0
  /** Whole runs (tool calls and model outputs) in a row, each one of the recent ones. */
  readonly #runs = new RecentRuns()
  /** Paid runs compared by their tool calls alone. */
  readonly #paidRuns = new RecentRuns()
  /**
   * At the first event of a new run (when `see` answers): how many paid runs in a row just
   * before it made the same tool calls as one of the runs before them (0 otherwise).
   */
  samePaidCalls = 0
  #lastAt = Number.NEGATIVE_INFINITY
  #lastEvent: RunawayEvent | undefined
  /** The event before #lastEvent: a free call waited on, or polled, is judged with the two after it. */
  #beforeLast: RunawayEvent | undefined
  /** Whether the agent's model worked, out of any run, since the last event of a run. */
  #modelWorked = false
  /** When the model was last asked again after a sleep (askedAfterSleep): polls' period. */
  #askedAt = Number.NEGATIVE_INFINITY
  #overlapAt = Number.NEGATIVE_INFINITY
  readonly #ended = new Set<string>()

  /**
   * Records an event of the agent that carries a run id. At the first event of a new run,
   * returns how many runs in a row just before it were the same (0 otherwise).
   */
  see(event: RunawayEvent): number {
    const { runId, at } = event
    if (runId === undefined) {
      // A model guarded with no run (guardModel) between runs of its tools: they wait on it.
      if (event.kind === 'model_call' || event.kind === 'model_result') this.#modelWorked = true
      return 0
    }
    // A pause between two events: whatever repeats around it is paced, not a loop. So is a
    // free call waited on, or polled by code (its result, then the same call again): a
    // LangChain tool polled every 2 s is a run per poll (red team rt35: revoked at the 6th).
    // Not while the agent's model worked between (red team rt36: a guardModel loop whose
    // tools ran a run each, 1 s steps, read as polling and ran 60 laps).
    const before = this.#beforeLast
    const last = this.#lastEvent
    const worked = this.#modelWorked
    this.#modelWorked = false
    const asked = last !== undefined && askedAfterSleep(last, event)
    const sinceAsked = at - this.#askedAt
    if (asked) this.#askedAt = at
    const paused =
      last !== undefined &&
      (pausedAfter(last, at - this.#lastAt) ||
        (before !== undefined && pausedAfter(before, last.at - before.at, last, event)))
    const polled = asked && sinceAsked >= MODEL_POLL_PERIOD_MS
    if (last && !worked && (paused || polled)) {
      this.#runs.pause()
      // A poll through the model pays again for each paid call in it: counted on, as
      // repeated-tool-call counts a paid repeat (red team rt42a: a run per ask, a $0.05 tool
      // each, 0.5 s asleep between, ran to the cap).
      if (paused) this.#paidRuns.pause()
    }
    this.#lastAt = at
    this.#beforeLast = last
    this.#lastEvent = event
    let streak = 0
    if (runId !== this.#run) {
      if (this.#run !== undefined) this.#end(this.#run)
      if (this.#open + this.#toolsOpen > 0 || this.#ended.has(runId)) this.#overlapAt = at
      if (at - this.#overlapAt <= OVERLAP_MS) {
        this.#runs.pause()
        this.#paidRuns.pause()
      }
      this.#run = runId
      this.#print = this.#carry ?? FNV_OFFSET
      this.#carry = undefined
      this.#callPrint = FNV_OFFSET
      this.#paid = false
      this.#asked = false
      this.#calls = 0
      this.#open = 0
      this.#toolsOpen = 0
      streak = this.#runs.repeats
      this.samePaidCalls = this.#paidRuns.repeats
    } else {
      this.samePaidCalls = 0
    }
    const kind = event.kind
    if (kind === 'tool_call') {
      this.#calls++
      this.#toolsOpen++
      this.#print = fold(fold(this.#print, event.tool), event.hash)
      this.#callPrint = fold(fold(this.#callPrint, event.tool), event.hash)
    } else if (kind === 'model_call') {
      this.#open++
      this.#toolsOpen = 0
    } else if (kind === 'tool_result') {
      if (this.#toolsOpen > 0) this.#toolsOpen--
    } else if (kind === 'model_result' || kind === 'error') {
      if (this.#open > 0) this.#open--
      else if (kind === 'error' && this.#toolsOpen > 0) this.#toolsOpen--
      if (kind === 'model_result') this.#print = fold(this.#print, event.hash)
      // Paid runs are compared by their calls and by what they were asked (the first model
      // output is hashed with its ask): a queue's jobs ask different things, a restarted
      // loop the same.
      if (kind === 'model_result' && !this.#asked) {
        this.#asked = true
        this.#callPrint = fold(this.#callPrint, event.hash)
      }
    } else if (kind === 'spend' && (event.micros ?? 0) > 0) {
      this.#paid = true
    }
    return streak
  }

  #end(runId: string): void {
    // A run of the model alone carries into the next one (#carry). Another run with no tool
    // call breaks the chain: the runs before it are not compared again. Nor does a run that
    // paid for nothing continue a chain of paid runs.
    if (this.#calls === 0 && this.#asked) this.#carry = this.#print
    else this.#runs.end(this.#calls > 0 ? this.#print : undefined)
    this.#paidRuns.end(this.#calls > 0 && this.#paid ? this.#callPrint : undefined)
    if (this.#ended.size >= MAX_ENDED) this.#ended.clear()
    this.#ended.add(runId)
  }
}

/**
 * An app asking the model again in a new run after a sleep (`POLL_SLEEP_MS`) from its last
 * answer, `MODEL_POLL_PERIOD_MS` or more after it last did so (see()): a poll through the
 * model, a run per ask, as repeated-tool-call takes one (red team rt38: a timer asking every 2-10 s
 * whether a job is done, through LangChain's handler or a run id per request, was revoked at
 * its 5th or 6th ask). A loop asks again at once.
 */
function askedAfterSleep(last: RunawayEvent, event: RunawayEvent): boolean {
  return (
    last.kind === 'model_result' &&
    event.kind === 'model_call' &&
    event.runId !== last.runId &&
    event.at - last.at >= POLL_SLEEP_MS
  )
}

/** The fingerprints of the last `RECENT_RUNS` ended runs, and how many in a row repeat one. */
class RecentRuns {
  readonly #prints = new Array<number>(RECENT_RUNS).fill(0)
  #next = 0
  /**
   * Runs in a row (the last ended one included) each the same as one of the runs before it,
   * plus the first of them.
   */
  repeats = 0

  /** A run ended with fingerprint `print`; undefined: a run that breaks the chain. */
  end(print: number | undefined): void {
    if (print === undefined) {
      this.repeats = 0
      this.#prints.fill(0)
      return
    }
    this.repeats = this.#prints.includes(print) ? this.repeats + 1 : 1
    this.#prints[this.#next] = print
    this.#next = (this.#next + 1) % RECENT_RUNS
  }

  /** Paced or overlapping runs: the count starts again (the fingerprints stay). */
  pause(): void {
    this.repeats = 0
  }
}

/** FNV-1a of `text` folded into `print`, then a separator: ("ab", "c") and ("a", "bc") differ. */
function fold(print: number, text: string | undefined): number {
  let h = print
  if (text !== undefined) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  }
  return Math.imul(h ^ 0xff, 0x01000193) >>> 0
}

/**
 * Judges the identical runs in a row just before the run of `runId` (from `RunStreak.see`),
 * and the paid runs with the same tool calls (`paidRuns`, `RunStreak.samePaidCalls`: asking
 * for `normalizedAction`), against `warnAt`/`tripAt` of repeated-tool-call.
 *
 * @example
 * detectRepeatedRun(5, 'req-5', DEFAULT_RUNAWAY_CONFIG.repeatedToolCall).status // 'trip'
 */
export function detectRepeatedRun(
  runs: number,
  runId: string,
  config: ResolvedRunawayConfig['repeatedToolCall'],
  paidRuns = 0,
): DetectorFinding {
  const exactStatus = statusOf(runs, config.warnAt, config.tripAt)
  const paidStatus = statusOf(paidRuns, config.warnAt, config.tripAt)
  if (exactStatus === 'ok' && paidStatus === 'ok') return OK
  // Identical runs win unless only the paid calls trip.
  const identical = exactStatus === 'trip' || (exactStatus === 'warn' && paidStatus !== 'trip')
  const status = identical ? exactStatus : paidStatus
  const count = identical ? runs : paidRuns
  const same = identical
    ? 'the same tool calls with the same arguments and the same model outputs'
    : 'the same paid tool calls with the same arguments, the model worded differently'
  return {
    detector: REPEATED_TOOL_CALL,
    status,
    ...(identical ? {} : { action: config.normalizedAction }),
    summary: `the same runs again and again: ${count} runs in a row, each after the first the same as one of the ${RECENT_RUNS} before it (${same}) (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? config.tripAt : config.warnAt})`,
    evidence: {
      match: identical ? 'identical-runs' : 'same-paid-calls',
      count,
      warnAt: config.warnAt,
      tripAt: config.tripAt,
      recentRuns: RECENT_RUNS,
      pauseMs: PAUSE_MS,
      runId,
    },
  }
}
