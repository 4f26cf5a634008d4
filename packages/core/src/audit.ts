// The audit log: append-only, per agent. Each entry carries enough to answer "what did this
// agent spend, on what, and why did it stop" without any other log. Amounts are dollars
// here (the log is for people); never a credential, never tool argument values.

/** What happened. */
export type AuditEntryType =
  | 'created'
  | 'cap_changed'
  | 'policy_changed'
  | 'alert_set'
  | 'hold'
  | 'settled'
  | 'released'
  /** A hold whose lease ran out with no settlement: charged in full, as unreconciled. */
  | 'lapsed'
  | 'denied'
  | 'runaway'
  | 'revoked'
  | 'alert'
  | 'alert_delivery'
  | 'payment'
  | 'outcome_unknown'
  /** An approval request, its decision, or a grant's expiry. */
  | 'approval'

/** One audit entry. `data` holds the type's details (model, tokens, cost, rule, reason...). */
export interface AuditEntry {
  /** Milliseconds since the epoch. */
  at: number
  handle: string
  type: AuditEntryType
  /** A one-line human summary, e.g. `settled $0.0123 for gpt-4o (1200 in, 300 out)`. */
  summary: string
  data: Record<string, unknown>
  /**
   * The entry's position in its agent's log (increasing), set by the store when read. Pass
   * the oldest one seen as `before` to read the page before it.
   */
  seq?: number
}

/**
 * Serialises audit entries as JSON lines (one entry per line, ISO timestamps).
 *
 * @example
 * process.stdout.write(auditToJsonLines(await ks.audit('researcher-agent-7')))
 */
export function auditToJsonLines(entries: readonly AuditEntry[]): string {
  return entries
    .map((entry) => JSON.stringify({ ...entry, at: new Date(entry.at).toISOString() }))
    .map((line) => `${line}\n`)
    .join('')
}
