// Call rate: model calls and tool calls per sliding window, for the agent as a whole (every
// process sharing the store). Catches floods that no other detector names: fan-out gone
// wrong, a tight loop over varied arguments, a retry storm with no backoff.
//
// The window holds the agent's last `historySize` events. A flood can overflow it within
// `windowMs` (paid calls take three events each: call, payment, result), and then the calls
// that fell out cannot be counted. Rather than fail open there, an overflowing window is a
// trip of its own: `historySize` guarded events within `windowMs` is a flood whatever they are.
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { CLOCK_SKEW_MS, formatDuration, okFinding, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const CALL_RATE = 'call-rate'

const OK = okFinding(CALL_RATE)

/**
 * Counts the calls of the current call's kind (the window's last event: a model call or a
 * tool call) within `windowMs`, itself included. Also trips when the window holds
 * `historySize` events, all within `windowMs` (it overflowed: the count is only a lower
 * bound). Other observations are not judged.
 *
 * @example
 * detectCallRate(window, now, DEFAULT_RUNAWAY_CONFIG.callRate, 256).status // 'trip' at the 50th model call in 10 s
 */
export function detectCallRate(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['callRate'],
  historySize = Number.POSITIVE_INFINITY,
): DetectorFinding {
  const kind = window[window.length - 1]?.kind
  if (kind !== 'model_call' && kind !== 'tool_call') return OK
  const since = now - config.windowMs
  let count = 0
  let oldest = now
  let inWindow = 0
  for (let i = window.length - 1; i >= 0; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    inWindow++
    if (event.kind !== kind) continue
    count++
    if (event.at < oldest) oldest = event.at
  }
  const model = kind === 'model_call'
  const warnAt = model ? config.warnModelCalls : config.warnToolCalls
  const tripAt = model ? config.tripModelCalls : config.tripToolCalls
  const overflowed = inWindow >= historySize
  const status = overflowed ? 'trip' : statusOf(count, warnAt, tripAt)
  if (status === 'ok') return OK
  const what = model ? 'model calls' : 'tool calls'
  const span = formatDuration(Math.max(0, now - oldest))
  const limit = `${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? tripAt : warnAt} per ${formatDuration(config.windowMs)}`
  return {
    detector: CALL_RATE,
    status,
    summary:
      overflowed && count < tripAt
        ? `${inWindow} events (${count} ${what} among them) in ${span}: more than the ${historySize} events kept per agent, a flood (${limit})`
        : `${count} ${what} in ${span} (${limit})`,
    evidence: {
      calls: model ? 'model' : 'tool',
      count,
      warnAt,
      tripAt,
      windowMs: config.windowMs,
      firstCallAt: oldest,
      ...(overflowed ? { overflowed: true, events: inWindow, historySize } : {}),
    },
  }
}
