// How one process learns of another's revocation through a shared sqlite file. SQLite has no
// notifications across processes, so we poll, but cheaply: `PRAGMA data_version` is a counter
// in shared memory that changes only when ANOTHER connection commits, so an idle tick costs
// a few microseconds and reads no table. Only when it moves do we read the newest event's seq
// (one row of sqlite_sequence), and only when that moved the `events` rows written since the
// last one seen (an indexed range on the primary key). The timer is unref'd: a subscription
// never keeps a process alive on its own.
//
// Events are pruned (sqlite-ledger.ts keeps the newest EVENTS_KEPT), so a process frozen or
// asleep long enough can find that events it never read are gone: seqs are never reused
// (AUTOINCREMENT), so the gap shows, and then `resync` reads the agents' state instead.

import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { StoreEvent } from '../store.js'

interface EventRow {
  seq: number
  origin: string
  type: string
  handle: string
  reason: string | null
  at: number
}

export class SqliteEventPoller {
  readonly #dataVersion: StatementSync
  readonly #lastSeq: StatementSync
  readonly #since: StatementSync
  readonly #origin: string
  readonly #intervalMs: number
  readonly #emit: (event: StoreEvent) => void
  readonly #resync: () => void
  readonly #tick: () => void
  #timer: NodeJS.Timeout | undefined
  #version = -1
  #seq = 0
  /** Events were missed (pruned unread) and `resync` has not succeeded since. */
  #resyncDue = false

  /**
   * `origin` marks this store's own events, which it publishes itself without polling;
   * `resync` publishes what the events missed would have said; `tick` runs at every poll
   * (the store's look at its revocations file, which moves no data_version of this one).
   */
  constructor(
    db: DatabaseSync,
    origin: string,
    intervalMs: number,
    emit: (event: StoreEvent) => void,
    resync: () => void,
    tick: () => void = () => undefined,
  ) {
    this.#dataVersion = db.prepare('PRAGMA data_version')
    // The highest seq ever given, even when its row was pruned since.
    this.#lastSeq = db.prepare(
      "SELECT COALESCE(MAX(seq), 0) AS seq FROM sqlite_sequence WHERE name = 'events'",
    )
    this.#since = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq')
    this.#origin = origin
    this.#intervalMs = intervalMs
    this.#emit = emit
    this.#resync = resync
    this.#tick = tick
  }

  get running(): boolean {
    return this.#timer !== undefined
  }

  /** Starts from the events present now: history before the subscription is not replayed. */
  start(): void {
    if (this.#timer) return
    this.#version = this.#readVersion()
    this.#seq = this.#readLastSeq()
    this.#timer = setInterval(() => this.poll(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** One tick; public so that `close` can deliver what arrived just before it. */
  poll(): void {
    try {
      this.#tick()
    } catch {
      // As below: the next tick tries again.
    }
    try {
      const version = this.#readVersion()
      if (version === this.#version) return
      this.#version = version
      const last = this.#readLastSeq()
      if (last > this.#seq) {
        const rows = this.#since.all(this.#seq) as unknown as EventRow[]
        // The first event after the last one read is gone: others may be too.
        if ((rows[0]?.seq ?? last + 1) > this.#seq + 1) this.#resyncDue = true
        for (const row of rows) {
          this.#seq = row.seq
          if (row.origin !== this.#origin) this.#emit(toStoreEvent(row))
        }
        this.#seq = Math.max(this.#seq, last)
      }
      // After the events read: what they said is not said twice. Retried until it succeeds.
      if (this.#resyncDue) {
        this.#resync()
        this.#resyncDue = false
      }
    } catch {
      // A busy or briefly unreadable file: the next tick tries again. The ledger itself
      // fails closed on its own, so a missed tick delays an abort, never admits a call.
      this.#version = -1
    }
  }

  #readLastSeq(): number {
    return (this.#lastSeq.get() as { seq: number }).seq
  }

  #readVersion(): number {
    return (this.#dataVersion.get() as { data_version: number }).data_version
  }
}

function toStoreEvent(row: EventRow): StoreEvent {
  if (row.type === 'revoked') {
    return { type: 'revoked', handle: row.handle, reason: row.reason ?? '', at: row.at }
  }
  return { type: 'updated', handle: row.handle }
}
