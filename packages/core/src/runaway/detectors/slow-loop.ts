// Slow loop: a loop spread over hours, too slow for the one-minute windows of
// repeated-tool-call and tool-cycle (an agent retrying the same step every few minutes).
// At that pace it looks like polling, which is honest, so it is judged by what it costs:
// the same call `tripAt` times among at most `maxDistinct` different calls (identical
// arguments: 8, so a slow cycle over 5 to 8 paid tools is one), or of the same shape among at
// most `normalizedMaxDistinct` shapes (4: paging through more sources in turn is honest), in
// one run (the agent without a run id), having spent `capFraction` of the cap since the
// first of them. Free polling never trips; a loop that keeps paying does, long before the cap.
// Spent by the loop, not by whatever else the scope does meanwhile: its paid calls, and of
// the model steps only the one that asked for each call (the last model result before it).
// A chat answering all day beside an hourly cache refresh, or a classifier labelling batches
// after the same free lookup, pays for other work between the repeats, not for the repeats.
//
// Hours do not fit in the shared window (a few hundred events), so the state is kept per
// scope in process memory and updated in O(maxDistinct) per event: the calls of the current
// stretch (at most `maxDistinct` different ones) with their counts, and the scope's spend.
import { toUsd } from '../../money.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { formatDuration, okFinding } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const SLOW_LOOP = 'slow-loop'

const OK = okFinding(SLOW_LOOP)

interface Entry {
  tool: string
  key: string
  count: number
  firstAt: number
  /** The scope's spend when this call was first seen in the stretch. */
  spentAtFirst: number
  /** The step it was last counted in: the calls of one step count once. */
  step: number
  /** Counted since the stretch last took in a new call. */
  settled: number
}

/** What the tracker knows of the current call: how often, since when, at what cost. */
export interface SlowLoopReading {
  tool: string
  count: number
  /** Of `count`, since the stretch last took in a new call (work that moves on). */
  settled: number
  firstAt: number
  spentSinceMicros: number
  distinct: number
  /** The most different calls a stretch holds (the tracker's tier). */
  maxDistinct: number
  runId?: string
}

/**
 * One scope's stretch of calls (a run, or an agent without run ids). A call outside the
 * stretch's at most `maxDistinct` different calls starts a new stretch, and a call new to
 * the stretch restarts every call's `settled` count: work that moves on is never a slow loop.
 *
 * @example
 * const tracker = new SlowLoopTracker()
 * tracker.answered(300_000) // the model step asking for the call
 * const reading = tracker.call('enrich', shapeHash(args), Date.now(), DEFAULT_RUNAWAY_CONFIG.slowLoop)
 */
export class SlowLoopTracker {
  readonly #entries: Entry[] = []
  /** Spent by the scope's calls: their payments, and the model steps that asked for them. */
  #spent = 0
  /** The last model result's cost since the last call: the step that asks for the next one. */
  #asking = 0
  #step = 0

  /** Adds spend of the scope's calls (a payment, a paid tool). */
  spent(micros: number): void {
    this.#spent += micros
  }

  /**
   * A model result costing `micros`: counted if a call follows it before another model
   * result does (the step asked for that call), else not the loop's.
   */
  answered(micros: number): void {
    this.#asking = micros
  }

  /** Something happened in the scope besides a tool call (a model step, a result): a new step. */
  step(): void {
    this.#step++
  }

  /**
   * Records a tool call of `tool` with arguments of shape `key`; returns its reading. A call
   * made in the same step as the last of its kind, or while others of its tool are in flight
   * (`concurrent`), is not a repetition: concurrency is not a loop. A stretch holds at most
   * `maxDistinct` different calls (`config.maxDistinct` unless given: the shape tracker
   * passes `normalizedMaxDistinct`).
   */
  call(
    tool: string,
    key: string,
    now: number,
    config: ResolvedRunawayConfig['slowLoop'],
    concurrent = false,
    maxDistinct = config.maxDistinct,
  ): SlowLoopReading {
    this.#spent += this.#asking
    this.#asking = 0
    const entries = this.#entries
    let entry: Entry | undefined
    for (const candidate of entries) {
      if (candidate.key === key && candidate.tool === tool) {
        entry = candidate
        break
      }
    }
    if (entry && now - entry.firstAt > config.windowMs) {
      entry.count = 0
      entry.firstAt = now
      entry.spentAtFirst = this.#spent
    }
    if (!entry) {
      // A new call: past maxDistinct different ones the stretch starts again from here.
      if (entries.length >= maxDistinct) entries.length = 0
      // The work moved on: what repeated before it is not a loop's lap yet.
      for (const other of entries) other.settled = 0
      entry = {
        tool,
        key,
        count: 0,
        firstAt: now,
        spentAtFirst: this.#spent,
        step: -1,
        settled: 0,
      }
      entries.push(entry)
    }
    if (!concurrent && entry.step !== this.#step) {
      entry.count++
      entry.settled++
    }
    entry.step = this.#step
    return {
      tool,
      count: entry.count,
      settled: entry.settled,
      firstAt: entry.firstAt,
      spentSinceMicros: this.#spent - entry.spentAtFirst,
      distinct: entries.length,
      maxDistinct,
    }
  }
}

/**
 * Judges a reading of the current tool call against the cap.
 *
 * @example
 * detectSlowLoop(reading, 20_000_000, DEFAULT_RUNAWAY_CONFIG.slowLoop).status // 'trip' on the 5th paid lap
 */
export function detectSlowLoop(
  reading: SlowLoopReading,
  capMicros: number,
  config: ResolvedRunawayConfig['slowLoop'],
  now: number,
): DetectorFinding {
  // A loop comes back to the same calls: `tripAt` laps, all but the first with no new call
  // taken in since (one call repeated while new work goes on between is no loop).
  if (reading.count < config.tripAt || reading.settled < config.tripAt - 1 || capMicros <= 0)
    return OK
  const threshold = Math.ceil(capMicros * config.capFraction)
  if (reading.spentSinceMicros < threshold) return OK
  const { tool, runId } = reading
  return {
    detector: SLOW_LOOP,
    status: 'trip',
    summary: `${tool} called ${reading.count} times over ${formatDuration(now - reading.firstAt)} among ${reading.distinct} different calls, $${toUsd(reading.spentSinceMicros)} spent meanwhile (trips at ${config.tripAt} calls and ${config.capFraction * 100}% of the cap)`,
    evidence: {
      tool,
      count: reading.count,
      distinctCalls: reading.distinct,
      spentUsd: toUsd(reading.spentSinceMicros),
      thresholdUsd: toUsd(threshold),
      firstCallAt: reading.firstAt,
      tripAt: config.tripAt,
      maxDistinct: reading.maxDistinct,
      capFraction: config.capFraction,
      windowMs: config.windowMs,
      ...(runId === undefined ? {} : { runId }),
    },
  }
}
