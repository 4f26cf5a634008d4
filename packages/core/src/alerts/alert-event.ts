// The body of an alert webhook. Flat, dollars, ISO time: it is read by people's on-call
// tooling, not by the ledger. It names the agent by handle and never carries a credential.

import { randomUUID } from 'node:crypto'

/** Why an alert fires. */
export type AlertEventType = 'threshold' | 'revoked' | 'runaway' | 'approval_requested'

/** An alert as a webhook receiver gets it (the JSON body). */
export interface AlertEvent {
  /** A UUID, the same on every retry of this event: receivers de-duplicate on it. */
  id: string
  type: AlertEventType
  /** The agent's handle. */
  agent: string
  /** Dollars spent when the alert fired. */
  spent: number
  /** The agent's spending cap in dollars. */
  spendingCap: number
  /** For `threshold`: the fraction of the cap that was crossed, e.g. 0.8. */
  thresholdPct?: number
  /** For `revoked` and `runaway`: why. */
  reason?: string
  /** For `runaway`: the detector that tripped, e.g. `repeated-tool-call`. */
  detector?: string
  /** For `approval_requested`: the request's id (`killswitch approvals approve <id>`). */
  approvalId?: string
  /** For `approval_requested`: the dollars the call asked for past the cap. */
  requested?: number
  /** For `approval_requested`: when the request expires undecided (ISO 8601). */
  expiresAt?: string
  /**
   * For `approval_requested`, when the kill switch has `approvalLinks`: signed one-click
   * links to `killswitch serve` (they open a confirmation page; nothing acts on GET).
   */
  approveUrl?: string
  denyUrl?: string
  /** For a threshold on a window or a budget: which level and window crossed. */
  level?: 'agent' | 'budget'
  budgetId?: string
  per?: string
  /** For a window's threshold: its spend and its limit in dollars, and when it resets. */
  windowSpent?: number
  windowAmount?: number
  windowResetsAt?: string
  /** When it fired (ISO 8601). */
  at: string
}

/** What `createAlertEvent` needs: the event without its id and time. */
export type AlertEventInput = Omit<AlertEvent, 'id' | 'at'> & { id?: string; at?: string | number }

/**
 * Builds an alert event: a fresh UUID (kept across retries) and the current time.
 *
 * @example
 * const event = createAlertEvent({ type: 'threshold', agent: 'researcher-agent-7', spent: 40.5, spendingCap: 50, thresholdPct: 0.8 })
 * dispatcher.dispatch(event, { url: rule.webhookUrl, secret: rule.secret })
 */
export function createAlertEvent(input: AlertEventInput): AlertEvent {
  const { id, at, ...rest } = input
  const event: AlertEvent = {
    id: id ?? randomUUID(),
    ...rest,
    at: typeof at === 'string' ? at : new Date(at ?? Date.now()).toISOString(),
  }
  // Keep the body minimal: absent optional fields are left out, not sent as null.
  for (const key of [
    'thresholdPct',
    'reason',
    'detector',
    'approvalId',
    'requested',
    'expiresAt',
    'approveUrl',
    'denyUrl',
    'level',
    'budgetId',
    'per',
    'windowSpent',
    'windowAmount',
    'windowResetsAt',
  ] as const) {
    if (event[key] === undefined) delete event[key]
  }
  return event
}
