// Spend spike: the agent spends much faster than it used to. Fixed dollars (spend-velocity)
// must sit above every honest agent's rate, so they miss a cheap agent that suddenly burns
// ten times its usual; this judges the last minute against the agent's own history.
// It waits for `spikeWarmupMs` of history (a new agent has no "usual") and never acts below
// `spikeMinUsd` a window (a few cents more than usual is not a runaway).
import { toMicros, toUsd } from '../../money.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { SpendReading } from '../spend-history.js'
import type { DetectorFinding } from '../types.js'
import { formatDuration, okFinding } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const SPEND_SPIKE = 'spend-spike'

const OK = okFinding(SPEND_SPIKE)

/**
 * Trips when the last window's spend is at least `spikeRatio` times the agent's usual spend
 * per window and at least `spikeMinUsd`, once the agent has `spikeWarmupMs` of history.
 *
 * @example
 * detectSpendSpike({ recentMicros: 3e6, baselineMicros: 1e5, observedMs: 1.2e6 }, DEFAULT_RUNAWAY_CONFIG.spendVelocity).status // 'trip'
 */
export function detectSpendSpike(
  reading: SpendReading,
  config: ResolvedRunawayConfig['spendVelocity'],
): DetectorFinding {
  if (reading.observedMs < config.spikeWarmupMs) return OK
  const floor = toMicros(config.spikeMinUsd)
  const threshold = Math.max(floor, reading.baselineMicros * config.spikeRatio)
  if (reading.recentMicros < threshold) return OK
  const ratio = reading.baselineMicros > 0 ? reading.recentMicros / reading.baselineMicros : null
  return {
    detector: SPEND_SPIKE,
    status: 'trip',
    summary: `$${toUsd(reading.recentMicros)} spent in the last ${formatDuration(config.windowMs)}, ${ratio === null ? 'with no spend before' : `${Math.round(ratio * 10) / 10} times its usual $${toUsd(Math.round(reading.baselineMicros))}`} (trips at ${config.spikeRatio} times, and at least $${config.spikeMinUsd})`,
    evidence: {
      spentUsd: toUsd(reading.recentMicros),
      usualUsd: toUsd(Math.round(reading.baselineMicros)),
      windowMs: config.windowMs,
      spikeRatio: config.spikeRatio,
      spikeMinUsd: config.spikeMinUsd,
      historyMs: config.historyMs,
    },
  }
}
