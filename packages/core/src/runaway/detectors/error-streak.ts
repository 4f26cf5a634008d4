// Error streak: consecutive failures of model calls or tools, e.g. a provider erroring in a
// retry loop, or a paid tool that charges for every failed attempt ("50 retries, 50
// charges"). Any success resets the streak, so a retry that recovers never trips it.
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { CLOCK_SKEW_MS, callEvidence, okFinding, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const ERROR_STREAK = 'error-streak'

const OK = okFinding(ERROR_STREAK)

/**
 * Counts the agent's failures (`error` events and failed tool results) since its last
 * success (a model result or a successful tool result) within `windowMs`. Calls that have
 * not finished yet neither break nor extend the streak. With `end`, judges `window[start..end)`
 * without a copy.
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
): DetectorFinding {
  const since = now - config.windowMs
  let failures = 0
  let first = end
  for (let i = end - 1; i >= start; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (isFailure(event)) {
      failures++
      first = i
    } else if (isSuccess(event)) {
      break
    }
  }
  const status = statusOf(failures, config.warnAt, config.tripAt)
  if (status === 'ok') return OK
  const failed = []
  for (let i = first; i < end; i++) {
    const event = window[i] as ActivityEvent
    if (event.at > since && isFailure(event)) failed.push(callEvidence(event))
  }
  return {
    detector: ERROR_STREAK,
    status,
    summary: `${failures} failures in a row with no success in between (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? config.tripAt : config.warnAt})`,
    evidence: {
      failures,
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
