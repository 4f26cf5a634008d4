// What an agent's policy holds besides its cap: alert rules and runaway settings. Stored
// with the agent (so every process sharing the store applies the same policy).

import type { RunawayConfig } from './runaway/config.js'
import type { SpendRules } from './spend-rules.js'

/** A threshold alert: fires once when spend crosses `thresholdPct` of the cap. */
export interface AlertRule {
  /** A fraction of the cap in (0, 1], e.g. 0.8 for 80%. */
  thresholdPct: number
  /** http(s) URL that receives the signed event. */
  webhookUrl: string
  /**
   * HMAC-SHA256 signing secret. Alerts are always signed: when absent, `setAlert`/`create`
   * use the secret this store's rules already sign the URL with, or generate one (returned
   * once); a rule that still has none is refused at delivery, never sent unsigned. Never
   * shown back.
   */
  secret?: string
  /** The body's shape: `json` (default), `slack` or `pagerduty` (Events API v2). */
  format?: 'json' | 'slack' | 'pagerduty'
  /** PagerDuty routing (integration) key; required with `format: 'pagerduty'`. Never shown back. */
  routingKey?: string
}

/** Approvals past the cap: ask a person instead of refusing. */
export interface ApprovalPolicy {
  enabled: boolean
  /** How long a call waits for the decision, in ms; 0 fails at once with ApprovalRequiredError. */
  waitMs: number
}

/** The agent's policy as stored. */
export interface AgentPolicy {
  alerts: AlertRule[]
  runaway: RunawayConfig
  /** Absent: approvals off (a call past the cap is refused). */
  approvals?: ApprovalPolicy
  /** Payee allowlist and per-spend maximum, checked before every spend is held. */
  spendRules?: SpendRules
}

export const EMPTY_POLICY: AgentPolicy = Object.freeze({ alerts: [], runaway: {} }) as AgentPolicy
