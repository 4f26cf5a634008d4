// Threshold breach: spend crossing a fraction of the cap acts, not only alerts. Off by
// default (threshold alerts already page someone); turned on, it can revoke at, say, 90% of
// the cap, keeping the last 10% for nobody.
import { toUsd } from '../../money.js'
import type { AgentRecord } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { okFinding } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const THRESHOLD_BREACH = 'threshold-breach'

const OK = okFinding(THRESHOLD_BREACH)

/**
 * Trips once the agent's settled spend reaches `fraction` of its cap.
 *
 * @example
 * detectThresholdBreach({ spentMicros: 45_000_000, capMicros: 50_000_000 }, { enabled: true, fraction: 0.9, action: 'revoke' }).status // 'trip'
 */
export function detectThresholdBreach(
  agent: Pick<AgentRecord, 'spentMicros' | 'capMicros'>,
  config: ResolvedRunawayConfig['thresholdBreach'],
): DetectorFinding {
  // A zero cap already refuses every spend; there is no fraction of it to cross.
  if (agent.capMicros <= 0) return OK
  const thresholdMicros = Math.ceil(agent.capMicros * config.fraction)
  if (agent.spentMicros < thresholdMicros) return OK
  const pct = Math.round((agent.spentMicros / agent.capMicros) * 1000) / 10
  return {
    detector: THRESHOLD_BREACH,
    status: 'trip',
    summary: `$${toUsd(agent.spentMicros)} spent, ${pct}% of the $${toUsd(agent.capMicros)} cap (acts at ${config.fraction * 100}%)`,
    evidence: {
      spentUsd: toUsd(agent.spentMicros),
      capUsd: toUsd(agent.capMicros),
      fraction: config.fraction,
      thresholdUsd: toUsd(thresholdMicros),
    },
  }
}
