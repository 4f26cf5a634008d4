// Call rate: model calls and tool calls per sliding window, for the agent as this process
// sees it. A rate is not a loop: fan-outs of hundreds of calls and busy agents serving many
// users are honest, so the thresholds sit far above them (1,000 calls in 10 s, 100 a second
// sustained) and the default action is a throttle, not a revoke. It catches floods no other
// detector names (fan-out gone wrong, a retry storm over varied calls).
//
// The count comes from a `RateWindow` kept per agent in process memory (O(1) per call); the
// shared activity window holds too few events to measure rates over seconds.
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { formatDuration, okFinding, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const CALL_RATE = 'call-rate'

const OK = okFinding(CALL_RATE)

/**
 * Judges `count`, the calls of `kind` within `windowMs` (the current one included), against
 * the thresholds for that kind.
 *
 * @example
 * detectCallRate(1_000, 'model_call', DEFAULT_RUNAWAY_CONFIG.callRate).status // 'trip'
 */
export function detectCallRate(
  count: number,
  kind: 'model_call' | 'tool_call',
  config: ResolvedRunawayConfig['callRate'],
): DetectorFinding {
  const model = kind === 'model_call'
  const warnAt = model ? config.warnModelCalls : config.warnToolCalls
  const tripAt = model ? config.tripModelCalls : config.tripToolCalls
  const status = statusOf(count, warnAt, tripAt)
  if (status === 'ok') return OK
  const what = model ? 'model calls' : 'tool calls'
  const limit = `${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? tripAt : warnAt} per ${formatDuration(config.windowMs)}`
  return {
    detector: CALL_RATE,
    status,
    summary: `${count} ${what} in the last ${formatDuration(config.windowMs)} (${limit})`,
    evidence: {
      calls: model ? 'model' : 'tool',
      count,
      warnAt,
      tripAt,
      windowMs: config.windowMs,
    },
  }
}
