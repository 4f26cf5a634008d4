// Audit entries the caller appends (appendAudit), held in this process until they are written:
// by the next ledger script of the same agent, which carries them along (so an agent's log
// stays in call order), or by the store's flush on the next turn (batched, off the caller's
// path). Entries whose write failed or wrote nothing are given back, in front, in order.
//
// A write that failed may still have been written: a reply that timed out in the client while
// Redis, stalled, ran the script later (red team rt41b). So each entry gets an id when it is
// buffered, sent first in its JSON (`{"bufferedId":"...",...}`); the script takes it out and
// skips an id it already wrote for that agent (push_buffered, redis-lua-ledger.ts). The log
// never holds the id.

import { randomBytes } from 'node:crypto'
import type { AuditEntry } from '@killswitch/core'

/** Entries one script carries at most (its argument budget). */
const CARRIED_MAX = 500

export class AuditBuffer {
  #entries: AuditEntry[] = []
  /** Unique to this buffer (72 random bits); ids are it and a sequence number. */
  readonly #origin = randomBytes(9).toString('base64url')
  #seq = 0

  get isEmpty(): boolean {
    return this.#entries.length === 0
  }

  push(entry: AuditEntry): void {
    // The id first, so that it leads the entry's JSON, where the script looks for it.
    const bufferedId = `${this.#origin}.${(this.#seq++).toString(36)}`
    this.#entries.push({ bufferedId, ...entry } as AuditEntry)
  }

  /** Takes this agent's entries, oldest first (at most CARRIED_MAX). */
  take(handle: string): AuditEntry[] {
    if (this.#entries.length === 0) return []
    const mine: AuditEntry[] = []
    const others: AuditEntry[] = []
    for (const entry of this.#entries) {
      ;(entry.handle === handle && mine.length < CARRIED_MAX ? mine : others).push(entry)
    }
    this.#entries = others
    return mine
  }

  /** Puts taken entries back in front of any appended since. */
  giveBack(entries: readonly AuditEntry[]): void {
    if (entries.length > 0) this.#entries = [...entries, ...this.#entries]
  }

  /** Takes every entry: all of them in order, and grouped by agent (each group in order). */
  drain(): { entries: AuditEntry[]; byAgent: Map<string, AuditEntry[]> } {
    const entries = this.#entries
    this.#entries = []
    const byAgent = new Map<string, AuditEntry[]>()
    for (const entry of entries) {
      const mine = byAgent.get(entry.handle) ?? []
      mine.push(entry)
      byAgent.set(entry.handle, mine)
    }
    return { entries, byAgent }
  }
}
