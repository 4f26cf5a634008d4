// What an agent's policy holds besides its cap: alert rules and runaway settings. Stored
// with the agent (so every process sharing the store applies the same policy).

import type { RunawayConfig } from './runaway/config.js'

/** A threshold alert: fires once when spend crosses `thresholdPct` of the cap. */
export interface AlertRule {
  /** A fraction of the cap in (0, 1], e.g. 0.8 for 80%. */
  thresholdPct: number
  /** http(s) URL that receives the signed event. */
  webhookUrl: string
  /** HMAC-SHA256 signing secret; when absent the event is sent unsigned. Never shown back. */
  secret?: string
}

/** The agent's policy as stored. */
export interface AgentPolicy {
  alerts: AlertRule[]
  runaway: RunawayConfig
}

export const EMPTY_POLICY: AgentPolicy = Object.freeze({ alerts: [], runaway: {} }) as AgentPolicy
