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
 * flood that overflowed it). With `end`, judges `window[0..end)` (the window as it stood at
 * an earlier event of it) without a copy.
 *
 * @example
 * detectSpendVelocity(window, now, { enabled: true, warnUsd: 10, tripUsd: 25, windowMs: 60_000, action: 'revoke' })
 */
export function detectSpendVelocity(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['spendVelocity'],
  end = window.length,
): DetectorFinding {
  const since = now - config.windowMs
  let micros = 0
  let charges = 0
  let oldest = now
  for (let i = end - 1; i >= 0; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (event.micros === undefined || event.micros <= 0) continue
    if (event.kind !== 'model_result' && event.kind !== 'spend') continue
    micros += event.micros
    charges++
    if (event.at < oldest) oldest = event.at
  }
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
