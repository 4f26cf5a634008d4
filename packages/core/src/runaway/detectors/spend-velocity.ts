// Spend velocity: dollars per sliding window, whatever they were spent on (model calls,
// paid tools, x402 payments). A hard cap bounds the total; this bounds the speed, so that an
// agent with a big cap cannot burn it in minutes. The incident this project exists for,
// $4,000 in 11 minutes, is about $6 a second: the default ($25 a minute) trips in seconds.
import { toMicros, toUsd } from '../../money.js'
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { CLOCK_SKEW_MS, formatDuration, okFinding, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const SPEND_VELOCITY = 'spend-velocity'

const OK = okFinding(SPEND_VELOCITY)

/**
 * Sums the agent's spend (model results' cost and `spend` events) within `windowMs`. The
 * window holds the agent's last `historySize` events: if it overflows within `windowMs`
 * the sum is a lower bound, so a trip is never a false one (and call-rate catches the
 * flood that overflowed it). With `start` and `end`, judges `window[start..end)` (the window
 * as it stood at an earlier event of it) without a copy.
 *
 * @example
 * detectSpendVelocity(window, now, { enabled: true, warnUsd: 10, tripUsd: 25, windowMs: 60_000, action: 'revoke' })
 */
export function detectSpendVelocity(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['spendVelocity'],
  end = window.length,
  start = 0,
): DetectorFinding {
  const sum = { micros: 0, charges: 0, oldest: now, stopped: false }
  sumSpend(sum, window, start, end, now - config.windowMs)
  return findingOf(sum, now, config)
}

/**
 * Spend velocity kept up to date as the window moves, for one agent: each judgement reads
 * the events appended since the last one (found by identity: the stores append to the
 * window and trim its front) and the charges that left the time window, not the whole
 * window again. It relies on the window being in time order, which one process's events
 * are: when it is not (several processes' clocks), or the window is not the last one read
 * moved on, it scans the whole window as `detectSpendVelocity` does. Either way its finding
 * is exactly `detectSpendVelocity`'s.
 */
export class SpendVelocityScan {
  /** The window last read (kept while it may be read again); undefined: scan afresh. */
  #window: readonly ActivityEvent[] | undefined
  /** How far it was read: `#window[..#end)`. */
  #end = 0
  /** The first event of it after the time window's start; the sum covers `[#lo..#end)`. */
  #lo = 0
  /**
   * When `#lo`'s event was made (NaN: not known). Kept so that a judgement with no charge
   * leaving the time window reads no old event: the oldest ones are cold in the CPU's cache.
   */
  #loAt = Number.NaN
  #micros = 0
  #now = 0
  #windowMs = 0

  /** What the last judgement found spent within the time window (for tests and diagnostics). */
  get spentMicros(): number {
    return this.#micros
  }

  judge(
    window: readonly ActivityEvent[],
    now: number,
    config: ResolvedRunawayConfig['spendVelocity'],
    end = window.length,
    start = 0,
  ): DetectorFinding {
    const since = now - config.windowMs
    if (!this.#moveTo(window, start, end, now, config.windowMs)) {
      this.#scan(window, start, end, since)
    }
    this.#now = now
    this.#windowMs = config.windowMs
    const status = statusOf(this.#micros, toMicros(config.warnUsd), toMicros(config.tripUsd))
    // Rare: the evidence (charges, the first one's time) comes from a scan of its own.
    return status === 'ok' ? OK : detectSpendVelocity(window, now, config, end, start)
  }

  /** Moves the sum onto `window[start..end)` at `now` from the last one; false if it cannot. */
  #moveTo(
    window: readonly ActivityEvent[],
    start: number,
    end: number,
    now: number,
    windowMs: number,
  ): boolean {
    const last = this.#window
    if (last === undefined || windowMs !== this.#windowMs || now < this.#now) return false
    const lastEvent = last[this.#end - 1]
    // Where the last read ended, in this window: the events after it are new. More new
    // events than the window holds: scanned afresh.
    let from = -1
    for (let i = end - 1; i >= start && i >= end - MAX_NEW_EVENTS; i--) {
      if (window[i] === lastEvent) {
        from = i + 1
        break
      }
    }
    if (from < 0) return false
    // The events before it are the last window's (moved by what the store trimmed from its
    // front): checked at both ends, the rest is the store's append-only order.
    const shift = this.#end - from
    if (shift < 0 || (from > 0 && window[0] !== last[shift])) return false
    // The new events must keep the window in time order.
    let previous = (lastEvent as ActivityEvent).at
    for (let i = from; i < end; i++) {
      const at = (window[i] as ActivityEvent).at
      if (at < previous) return false
      previous = at
    }
    // Events the store trimmed from the front since, or that the window's start has passed
    // (the same array, read further on): what of them was summed goes.
    let micros = this.#micros
    let lo = this.#lo
    let loAt = this.#loAt
    if (lo < shift) {
      for (; lo < shift; lo++) micros -= charge(last[lo] as ActivityEvent)
      loAt = Number.NaN
    }
    lo -= shift
    if (lo < start) {
      for (; lo < start; lo++) micros -= charge(window[lo] as ActivityEvent)
      loAt = Number.NaN
    }
    for (let i = from; i < end; i++) micros += charge(window[i] as ActivityEvent)
    // Charges older than the time window go (in time order, they are the first ones).
    const since = now - windowMs
    if (!(loAt > since)) {
      for (; lo < end && (window[lo] as ActivityEvent).at <= since; lo++)
        micros -= charge(window[lo] as ActivityEvent)
      loAt = lo < end ? (window[lo] as ActivityEvent).at : Number.NaN
    }
    this.#keep(window, end, lo, micros, loAt)
    return true
  }

  /** Sums afresh; keeps the sum for next time only if the window is in time order. */
  #scan(window: readonly ActivityEvent[], start: number, end: number, since: number): void {
    const sum = { micros: 0, charges: 0, oldest: 0, stopped: false }
    sumSpend(sum, window, start, end, since)
    this.#micros = sum.micros
    // In time order the charges after `since` are a suffix, `[lo..end)`: the one the scan
    // summed. Out of order (clocks of several processes), no sum is kept.
    let lo = end
    for (let i = end - 1; i >= start; i--) {
      const at = (window[i] as ActivityEvent).at
      if (i > start && (window[i - 1] as ActivityEvent).at > at) {
        this.#window = undefined
        return
      }
      if (at > since) lo = i
    }
    const loAt = lo < end ? (window[lo] as ActivityEvent).at : Number.NaN
    this.#keep(window, end, lo, sum.micros, loAt)
  }

  #keep(
    window: readonly ActivityEvent[],
    end: number,
    lo: number,
    micros: number,
    loAt: number,
  ): void {
    this.#window = window
    this.#end = end
    this.#lo = lo
    this.#micros = micros
    this.#loAt = loAt
  }
}

/**
 * New events one judgement looks back through for the last one read: more (a burst from
 * other processes) and the window is scanned afresh.
 */
const MAX_NEW_EVENTS = 64

/** What an event adds to the spend: a model result's cost or a payment. */
function charge(event: ActivityEvent): number {
  if (event.micros === undefined || event.micros <= 0) return 0
  return event.kind === 'model_result' || event.kind === 'spend' ? event.micros : 0
}

/** What a backward scan over the window found: the spend, and whether it stopped early. */
interface SpendSum {
  micros: number
  charges: number
  /** When the oldest charge counted was made (`now` when none). */
  oldest: number
  /** The scan met an event older than the time window by more than the clock skew. */
  stopped: boolean
}

/**
 * Adds to `sum` the charges in `window[from..end)` made after `since`, scanning back from
 * `end`; stops at the first event older than `since` by more than the clock skew (the
 * window is in append order: what comes before it is older still).
 */
function sumSpend(
  sum: SpendSum,
  window: readonly ActivityEvent[],
  from: number,
  end: number,
  since: number,
): void {
  for (let i = end - 1; i >= from; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) {
        sum.stopped = true
        return
      }
      continue
    }
    if (event.micros === undefined || event.micros <= 0) continue
    if (event.kind !== 'model_result' && event.kind !== 'spend') continue
    sum.micros += event.micros
    sum.charges++
    if (event.at < sum.oldest) sum.oldest = event.at
  }
}

function findingOf(
  sum: SpendSum,
  now: number,
  config: ResolvedRunawayConfig['spendVelocity'],
): DetectorFinding {
  const { micros, charges, oldest } = sum
  const status = statusOf(micros, toMicros(config.warnUsd), toMicros(config.tripUsd))
  if (status === 'ok') return OK
  const spentUsd = toUsd(micros)
  return {
    detector: SPEND_VELOCITY,
    status,
    summary: `$${spentUsd} spent in the last ${formatDuration(Math.max(0, now - oldest))} over ${charges} charges (${status === 'trip' ? `trips at $${config.tripUsd}` : `warns at $${config.warnUsd}`} per ${formatDuration(config.windowMs)})`,
    evidence: {
      spentUsd,
      charges,
      windowMs: config.windowMs,
      warnUsd: config.warnUsd,
      tripUsd: config.tripUsd,
      firstChargeAt: oldest,
    },
  }
}
