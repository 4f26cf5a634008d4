// No progress: the model answers the same thing again and again (same text, same tool-call
// plan), so whatever it is given, nothing moves. The guard hashes each model output; this
// detector counts how often the latest output hash recurs among the recent results of one
// run. Without a run id it does not judge: the same answer to many independent requests (a
// classifier saying "yes" a thousand times, a greeting) is not a loop, and without a run id
// the requests cannot be told apart from the steps of one. Nor in a run whose model calls
// overlap (a map over documents in one run, `concurrency.ts`): parallel calls are not a
// loop's steps. And outputs before a pause of the run (`PAUSE_MS`) are not counted: an agent
// that polls (the same "still running, check again" every 30 s, or after a sleep tool)
// waits, a loop does not.
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import {
  CLOCK_SKEW_MS,
  inScope,
  ModelBetween,
  okFinding,
  pausedAfter,
  statusOf,
} from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const NO_PROGRESS = 'no-progress'

const OK = okFinding(NO_PROGRESS)

/**
 * Finds the latest model result with an output hash in the scope of the window's last
 * event (its run, or the whole agent without a run id) and counts how many of the last
 * `withinResults` results within `windowMs` have that same hash, itself included, since
 * the run's last pause. Returns ok when the run's calls overlap (`concurrent`). With
 * `end` (and `start`), judges `window[start..end)` without a copy.
 *
 * @example
 * detectNoProgress(window, now, DEFAULT_RUNAWAY_CONFIG.noProgress).status // 'trip' at 5 identical outputs
 */
export function detectNoProgress(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['noProgress'],
  end = window.length,
  start = 0,
  concurrent = false,
): DetectorFinding {
  const last = window[end - 1]
  if (concurrent || last?.runId === undefined) return OK
  const runId = last.runId
  const since = now - config.windowMs
  let hash: string | undefined
  let seen = 0
  let count = 0
  let first = end
  // The run's next event and the one after it (newer: the scan goes back in time).
  let next = last
  let afterNext: ActivityEvent | undefined
  const model = new ModelBetween()
  for (let i = end - 1; i >= start && seen < config.withinResults; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (!inScope(event, runId)) {
      model.outside(event)
      continue
    }
    if (pausedAfter(event, next.at - event.at, next, afterNext, model.worked)) break
    model.pass(event !== next)
    if (event !== next) afterNext = next
    next = event
    if (event.kind !== 'model_result' || event.hash === undefined) continue
    hash ??= event.hash
    seen++
    if (event.hash === hash) {
      count++
      first = i
    }
  }
  const status = statusOf(count, config.warnAt, config.tripAt)
  if (status === 'ok') return OK
  // Every such result has the same hash: when they came is the rest of the story.
  const at: number[] = []
  for (let i = first; i < end; i++) {
    const event = window[i] as ActivityEvent
    if (
      event.kind === 'model_result' &&
      event.hash === hash &&
      event.at > since &&
      inScope(event, runId)
    ) {
      at.push(event.at)
    }
  }
  return {
    detector: NO_PROGRESS,
    status,
    summary: `the model gave the same output ${count} times in its last ${seen} results (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? config.tripAt : config.warnAt})`,
    evidence: {
      outputHash: hash,
      count,
      warnAt: config.warnAt,
      tripAt: config.tripAt,
      withinResults: config.withinResults,
      windowMs: config.windowMs,
      runId,
      at,
    },
  }
}
