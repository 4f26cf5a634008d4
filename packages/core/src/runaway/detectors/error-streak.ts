// Error streak: consecutive failures of model calls or tools, e.g. a provider erroring in a
// retry loop, or a paid tool that charges for every failed attempt ("50 retries, 50
// charges"). Any success resets the streak, so a retry that recovers never trips it.
// Failures that follow one another make a streak; failures of calls made together do not: a
// batch of 50 parallel calls answered 429 at once is one rate limit, not 50 failures in a
// row. So failures with no call started between them (the calls were all in flight before
// the first of them came back) and under `PAUSE_MS` apart count once, as one burst.
// A streak the agent's throttle has answered does not trip again by itself: the throttle
// refuses calls without recording them, so no new failure (nor success) can come while it
// lasts, and re-judging the same old failures at every later call would refuse the agent
// forever after its provider recovered. As a circuit breaker half-open, the streak trips again
// only once a failure has come since the throttle ended (`heldUntil`): the calls let through
// then are the probes; one failing means the loop goes on, one succeeding ends the streak.
// While the streak is `open` (it tripped, and no success came since), the first failed probe
// trips it again at once (the throttle doubles): counted afresh, a storm's probes would not
// reach the trip count again, as the throttle makes its workers resume and fail together
// (failures of calls made together count once), and the window holds a few laps of a wide
// storm only: 20 workers retrying a paid call spent 83% of a cap between throttles. Failures
// landing during the throttle are the storm's tail (calls made before it began), not probes:
// they neither trip nor escalate it.
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { CLOCK_SKEW_MS, callEvidence, okFinding, PAUSE_MS, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const ERROR_STREAK = 'error-streak'

const OK = okFinding(ERROR_STREAK)

/**
 * Counts the agent's failures (`error` events and failed tool results) since its last
 * success (a model result or a successful tool result) within `windowMs`, a burst of them
 * (no call started between them, under `PAUSE_MS` apart) once. Calls that have not finished
 * yet neither break nor extend the streak. With `end`, judges `window[start..end)` without a
 * copy. Never trips (nor warns) unless the newest failure came at or after `heldUntil`, the end
 * of the agent's last throttle; trips at that failure when the streak is `open` (a failed
 * probe).
 *
 * @example
 * detectErrorStreak(window, now, DEFAULT_RUNAWAY_CONFIG.errorStreak).status // 'trip' at 10 failures in a row
 */
export function detectErrorStreak(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['errorStreak'],
  end = window.length,
  start = 0,
  heldUntil = Number.NEGATIVE_INFINITY,
  open = false,
): DetectorFinding {
  const since = now - config.windowMs
  let failures = 0
  let first = end
  // Whether a call started between the failure being looked at and the newer one (the scan
  // goes back in time), and when that one came; the newest failure always counts.
  let called = true
  let newer = Number.POSITIVE_INFINITY
  for (let i = end - 1; i >= start; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (isFailure(event)) {
      // The newest failure is older than the throttle's end: a streak already answered.
      if (failures === 0 && event.at < heldUntil) return OK
      if (called || newer - event.at >= PAUSE_MS) failures++
      called = false
      newer = event.at
      first = i
    } else if (isSuccess(event)) {
      break
    } else if (event.kind === 'model_call' || event.kind === 'tool_call') {
      if (failures > 0) called = true
    }
  }
  // Half-open: a call let through after the throttle failed too (the loop goes on).
  const probeFailed = open && failures > 0
  const status = probeFailed ? 'trip' : statusOf(failures, config.warnAt, config.tripAt)
  if (status === 'ok') return OK
  const failed = []
  for (let i = first; i < end; i++) {
    const event = window[i] as ActivityEvent
    if (event.at > since && isFailure(event)) failed.push(callEvidence(event))
  }
  return {
    detector: ERROR_STREAK,
    status,
    summary: probeFailed
      ? `${failures} failures in a row with no success in between, the last of a call let through after the error-streak throttle (the loop goes on)`
      : `${failures} failures in a row with no success in between (failures of calls made together counted once; ${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? config.tripAt : config.warnAt})`,
    evidence: {
      failures,
      ...(probeFailed ? { probeFailed } : {}),
      warnAt: config.warnAt,
      tripAt: config.tripAt,
      windowMs: config.windowMs,
      failed,
    },
  }
}

function isFailure(event: ActivityEvent): boolean {
  return (
    event.kind === 'error' ||
    (event.ok === false && (event.kind === 'tool_result' || event.kind === 'model_result'))
  )
}

function isSuccess(event: ActivityEvent): boolean {
  return (event.kind === 'tool_result' || event.kind === 'model_result') && event.ok !== false
}
