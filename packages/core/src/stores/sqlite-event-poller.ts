// How one process learns of another's revocation through a shared sqlite file. SQLite has no
// notifications across processes, so we poll, but cheaply: `PRAGMA data_version` is a counter
// in shared memory that changes only when ANOTHER connection commits, so an idle tick costs
// a few microseconds and reads no table. Only when it moves do we read the `events` rows
// written since the last one seen (an indexed range on the primary key). The timer is
// unref'd: a subscription never keeps a process alive on its own.

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
  #timer: NodeJS.Timeout | undefined
  #version = -1
  #seq = 0

  /** `origin` marks this store's own events, which it publishes itself without polling. */
  constructor(
    db: DatabaseSync,
    origin: string,
    intervalMs: number,
    emit: (event: StoreEvent) => void,
  ) {
    this.#dataVersion = db.prepare('PRAGMA data_version')
    this.#lastSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events')
    this.#since = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq')
    this.#origin = origin
    this.#intervalMs = intervalMs
    this.#emit = emit
  }

  get running(): boolean {
    return this.#timer !== undefined
  }

  /** Starts from the events present now: history before the subscription is not replayed. */
  start(): void {
    if (this.#timer) return
    this.#version = this.#readVersion()
    this.#seq = (this.#lastSeq.get() as { seq: number }).seq
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
      const version = this.#readVersion()
      if (version === this.#version) return
      this.#version = version
      for (const row of this.#since.all(this.#seq) as unknown as EventRow[]) {
        this.#seq = row.seq
        if (row.origin === this.#origin) continue
        this.#emit(toStoreEvent(row))
      }
    } catch {
      // A busy or briefly unreadable file: the next tick tries again. The ledger itself
      // fails closed on its own, so a missed tick delays an abort, never admits a call.
      this.#version = -1
    }
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
