// Which audit entries charged a hold as unreconciled spend, the one reading of it for the
// CLI's audit and the console's timeline. Two kinds: a lapse (its process vanished, the whole
// hold charged) and a settle at its bound with nothing known of what it used (a model call
// with no usage, or stopped before its usage came; a payment of unknown outcome). Both are
// corrected from the provider's bill by `killswitch reconcile <handle> <hold-id> <usd>`, so
// the operator needs the hold id, which only `data` carried (red team rt32: the text audit
// and the console showed the summary alone).

import type { AuditEntry } from '@killswitch/core'

/** A hold charged as unreconciled: its id, and what it charged (its bound), in dollars. */
export interface UnreconciledCharge {
  holdId: string
  charged: number
}

/**
 * The unreconciled charge `entry` made, or undefined: a `lapsed` entry (its amount) or a
 * `settled` one of outcome `unreconciled` (its cost).
 */
export function unreconciledCharge(entry: AuditEntry): UnreconciledCharge | undefined {
  const { holdId, outcome } = entry.data
  if (typeof holdId !== 'string') return undefined
  const charged =
    entry.type === 'lapsed'
      ? entry.data.amount
      : entry.type === 'settled' && outcome === 'unreconciled'
        ? entry.data.cost
        : undefined
  return typeof charged === 'number' ? { holdId, charged } : undefined
}

/**
 * The unreconciled charges of a log still open to reconcile, oldest first: those with no
 * later entry ending their hold (a reconcile's correction, the call's own late settle, a
 * withdrawal). The original entry keeps its `unreconciled` outcome after a correction, so a
 * grep of the log lists holds already reconciled (red team rt32). `pages` is the log read
 * newest page first, each page oldest first (as `before` pages it): only the hold ids of
 * endings are kept, never the whole log.
 */
export async function openUnreconciled(
  pages: AsyncIterable<readonly AuditEntry[]> | Iterable<readonly AuditEntry[]>,
): Promise<Array<{ entry: AuditEntry; charge: UnreconciledCharge }>> {
  const ended = new Set<string>()
  const open: Array<{ entry: AuditEntry; charge: UnreconciledCharge }> = []
  for await (const page of pages) {
    for (const entry of [...page].reverse()) {
      const charge = unreconciledCharge(entry)
      if (charge && !ended.has(charge.holdId)) open.push({ entry, charge })
      const { holdId } = entry.data
      if ((entry.type === 'settled' || entry.type === 'released') && typeof holdId === 'string')
        ended.add(holdId)
    }
  }
  return open.reverse()
}
