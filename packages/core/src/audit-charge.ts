// What an audit entry charged its agent, one rule for every reader that sums a log (the
// console's sparkline and chart, an auditor's script). A settlement charges its cost and a
// lapse its hold; an ending of a lapsed hold (a late settlement, a withdrawal) says in
// `data.replaces` which lapse charge it takes back, so the entries sum to `spent` without
// joining them on their hold id (red team r25: a $0.30 lapse settled late at $0.10 read as
// $0.60 of spend, against $0.10 recorded).

import type { AuditEntry } from './audit.js'

const micros = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 1_000_000) : 0

/**
 * What `entry` changed the agent's spend by, in dollars: a settlement's cost, a lapsed hold's
 * amount, less the lapse charge an ending replaces (negative for a withdrawn lapse). Summed
 * over an agent's whole log, this is its `spent`.
 *
 * @example
 * const spent = entries.reduce((sum, entry) => sum + auditCharge(entry), 0)
 */
export function auditCharge(entry: Pick<AuditEntry, 'type' | 'data'>): number {
  const { type, data } = entry
  const charged =
    type === 'settled' ? micros(data.cost) : type === 'lapsed' ? micros(data.amount) : 0
  return (charged - micros(data.replaces)) / 1_000_000
}

/**
 * The entry as people read it: an ending of a lapsed hold says in its summary which charge
 * it replaces (the ledger writes the figure in `data.replaces`; the summary was written by
 * the caller before the ledger knew the hold had lapsed).
 */
export function withReplacedCharge(entry: AuditEntry): AuditEntry {
  const replaced = micros(entry.data.replaces)
  if (replaced === 0) return entry
  const delta = auditCharge(entry)
  const note =
    entry.type === 'settled'
      ? `replaces the $${replaced / 1_000_000} charged before (spend ${delta < 0 ? '-' : '+'}$${Math.abs(delta)})`
      : `withdraws the $${replaced / 1_000_000} charged before`
  return { ...entry, summary: `${entry.summary}: ${note}` }
}
