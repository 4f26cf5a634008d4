// A sqlite store's revocations, in a file of their own beside it (`<path>-revocations`).
//
// The ledger's file has one write lock, held by whichever process is in a transaction. A
// process frozen inside one (SIGSTOP, a debugger's breakpoint, `docker pause`, a paused VM)
// holds it until it resumes, and every write waits, a revocation too: red team rt30 saw
// `killswitch revoke` fail after 25 s, the agent still active once the process resumed. A
// kill switch never refuses to fire, so a revocation is written here first, where only
// revocations take the lock (one small row each, rare), and it is in force from then on:
// every ledger write applies the revocations it has not yet applied, first, in its own
// transaction (a reserve after a revocation is refused), reads show the agent revoked, and
// other processes' pollers abort its calls in flight. Revocations are final (no agent is
// un-revoked), so the file grows by one row per revoked agent and is never pruned.
//
// The file is its ledger's: it carries the ledger's identity, and a file of another ledger's
// is refused, not read. Deleting a ledger to start afresh (as a demo or a test does) and
// keeping this file revoked the new ledger's agents of the same names.

import { randomUUID } from 'node:crypto'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { AuditEntry } from '../audit.js'
import { StoreUnavailableError } from '../errors.js'
import {
  createOwnerOnly,
  fileIdentity,
  inMemoryPath,
  restrictToOwner,
  sqliteStoreFiles,
} from './sqlite-files.js'
import { freeRoom, isDiskFull, keepRoom, roomPath } from './sqlite-room.js'
import { isBusy } from './sqlite-schema.js'

/**
 * The ledger a revocations file is opened for: its identity, or none yet (a new ledger, or
 * one from a release before identities) and whether it may take the file's.
 */
export type LedgerIdentity = ({ id: string } | { id: undefined; mayAdopt: boolean }) & {
  /**
   * The agents whose revocation the ledger marked alerted (an earlier release marked them
   * there): read when this file gains its alert marks, so none is alerted again.
   */
  alerted?: () => readonly string[]
}

/** One revocation, as written here. */
export interface RevocationMark {
  seq: number
  handle: string
  reason: string
  at: number
  /** The ledger's audit entry of it, written with it when a ledger write applies it. */
  audit: AuditEntry | undefined
}

interface MarkRow {
  seq: number
  handle: string
  reason: string
  at: number
  audit: string | null
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS revocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    handle TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    audit TEXT,
    alerted INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE TABLE IF NOT EXISTS ledger (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
  ) STRICT;
`

export class SqliteRevocations {
  readonly #db: DatabaseSync
  readonly #dataVersion: StatementSync
  readonly #since: StatementSync
  readonly #insert: StatementSync
  #markAlerted: StatementSync | undefined
  /** A new ledger's identity, drawn once (#judge may run twice in one open). */
  #newId: string | undefined
  readonly #hasMark: StatementSync
  /** Every mark read so far, in seq order, and by handle. */
  readonly #marks: RevocationMark[] = []
  readonly #byHandle = new Map<string, RevocationMark>()
  readonly #path: string
  /** The space kept for a revocation on a full disk (sqlite-room.ts); none in memory. */
  readonly #room: string | undefined
  /** The file's identity when opened (undefined in memory). */
  readonly #identity: string | undefined
  #version = -1
  /** The identity of the ledger this file belongs to (claim). */
  readonly ledgerId: string

  /**
   * Opens the revocations file of the ledger at `ledgerPath`, known as `ledger`. Throws
   * StoreUnavailableError when the file belongs to another ledger.
   */
  constructor(Database: typeof DatabaseSync, ledgerPath: string, ledger: LedgerIdentity) {
    // A ledger in memory (one connection, one process) keeps its revocations in memory too.
    const inMemory = inMemoryPath(ledgerPath)
    const path = inMemory ? ':memory:' : `${ledgerPath}-revocations`
    createOwnerOnly(path)
    this.#db = new Database(path, { timeout: 0 })
    try {
      // Set-up waits its turn, as the ledger's does; then never (no sleep on the event loop).
      this.#db.exec('PRAGMA busy_timeout = 5000')
      this.#db.exec('PRAGMA journal_mode = WAL')
      // NORMAL, as the ledger: a commit survives any process's crash (FULL's fsync per
      // revocation measured 14.7 ms from revoke to refusal elsewhere, against 2.9 ms).
      this.#db.exec('PRAGMA synchronous = NORMAL')
      this.ledgerId = this.#claim(ledgerPath, ledger)
      this.#db.exec('PRAGMA busy_timeout = 0')
      restrictToOwner(path)
      this.#path = path
      this.#room = inMemory ? undefined : roomPath(path)
      if (this.#room !== undefined) keepRoom(this.#room)
      this.#identity = fileIdentity(path)
      restrictToOwner(`${path}-wal`)
      restrictToOwner(`${path}-shm`)
      this.#dataVersion = this.#db.prepare('PRAGMA data_version')
      this.#since = this.#db.prepare('SELECT * FROM revocations WHERE seq > ? ORDER BY seq')
      this.#insert = this.#db.prepare(
        'INSERT INTO revocations (handle, reason, at, audit) VALUES (?, ?, ?, ?) ON CONFLICT (handle) DO NOTHING',
      )
      this.#hasMark = this.#db.prepare('SELECT 1 FROM revocations WHERE handle = ?')
    } catch (error) {
      this.#db.close()
      throw error
    }
  }

  /**
   * The ledger this file belongs to (`#judge`), written into it the first time (a new file,
   * or one of an earlier release). Read first: the usual open (the file this ledger's, of
   * this release) writes nothing, so it never waits on the file's lock, which a process
   * frozen while it wrote a revocation may hold (red team rt33: a revoke from the CLI could
   * not even open the store). A file of an earlier release whose lock is held is opened as it
   * is, its stamp and alert column left to a later open (red team rt34: the revoke failed
   * in the upgrade window); its alerts are marked in the ledger meanwhile.
   */
  #claim(ledgerPath: string, ledger: LedgerIdentity): string {
    const tables = new Set(
      (
        this.#db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
          name: string
        }[]
      ).map(({ name }) => name),
    )
    // An existing file's lock held past a second is a frozen process's (its writes are one row
    // each): opened as it is, its stamp left to a later open. A new file waits its turn.
    if (tables.has('revocations')) this.#db.exec('PRAGMA busy_timeout = 1000')
    if (!tables.has('ledger')) {
      try {
        this.#db.exec(SCHEMA)
      } catch (error) {
        if (!isBusy(error) || !tables.has('revocations')) throw lockedFile(ledgerPath, error)
        return this.#judge(ledgerPath, ledger, undefined)
      }
    }
    const stamp = this.#stamp()
    const id = this.#judge(ledgerPath, ledger, stamp)
    if (stamp !== undefined && this.#hasAlertColumn()) return id
    try {
      this.#db.exec('BEGIN IMMEDIATE')
    } catch (error) {
      if (isBusy(error)) return id
      throw error
    }
    try {
      // A file of the release before alert marks (markAlerted) gets their column, set for the
      // revocations that release alerted (marked in the ledger): not alerted again by the
      // next revoke of the agent, whatever holds the ledger's lock then (red team rt35).
      if (!this.#hasAlertColumn()) {
        this.#db.exec('ALTER TABLE revocations ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0')
        const mark = this.#db.prepare('UPDATE revocations SET alerted = 1 WHERE handle = ?')
        for (const handle of ledger.alerted?.() ?? []) mark.run(handle)
      }
      // Read again under the lock: another process's open may have stamped it meanwhile.
      const found = this.#stamp()
      const claimed = this.#judge(ledgerPath, ledger, found)
      if (found === undefined) {
        this.#db.prepare('INSERT INTO ledger (one, id) VALUES (1, ?)').run(claimed)
      }
      this.#db.exec('COMMIT')
      return claimed
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK')
      throw error
    }
  }

  /**
   * The ledger's identity, if the file may be its: a file of another ledger is refused. A
   * ledger without an identity takes the file's only when it may (`mayAdopt`: it has agents,
   * so it is a backup from before identities restored beside its file); a new ledger never
   * takes a file that revokes agents. One that only names a ledger is this one's first open,
   * cut short between the two stamps (red team rt34: a process killed then left the store
   * refused for good).
   */
  #judge(ledgerPath: string, ledger: LedgerIdentity, stamp: string | undefined): string {
    if (ledger.id !== undefined) {
      if (stamp !== undefined && stamp !== ledger.id) throw foreignRevocationsFile(ledgerPath)
      return ledger.id
    }
    if (!ledger.mayAdopt) {
      const marked = this.#db.prepare('SELECT 1 FROM revocations LIMIT 1').get() !== undefined
      if (marked) throw foreignRevocationsFile(ledgerPath)
    }
    this.#newId ??= stamp ?? randomUUID()
    return stamp ?? this.#newId
  }

  /**
   * Writes the revocation of `handle`; false when it was written before (a revocation is
   * once). Throws sqlite's busy error when another process is writing one right now.
   */
  mark(handle: string, reason: string, at: number, audit: AuditEntry | undefined): boolean {
    const row = [handle, reason, at, audit ? JSON.stringify(audit) : null] as const
    let written: ReturnType<StatementSync['run']> | undefined
    while (written === undefined) {
      try {
        written = this.#insert.run(...row)
      } catch (error) {
        // A full disk: the reserve kept for this makes the room, a slice at a time (sqlite-room.ts).
        if (!isDiskFull(error) || this.#room === undefined || !freeRoom(this.#room)) throw error
      }
    }
    // Our own commit moves no data_version of ours: read it all the same.
    this.#version = -1
    this.sync()
    return Number(written.changes) > 0
  }

  /** The identity of the ledger the file names, if it names one. */
  #stamp(): string | undefined {
    const table = this.#db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'")
      .get()
    if (table === undefined) return undefined
    return (this.#db.prepare('SELECT id FROM ledger').get() as { id: string } | undefined)?.id
  }

  #hasAlertColumn(): boolean {
    const columns = this.#db.prepare('PRAGMA table_info(revocations)').all() as { name: string }[]
    return columns.some(({ name }) => name === 'alerted')
  }

  /**
   * Marks the revocation of `handle` alerted: true for the one caller that marked it, false
   * when it was before, undefined when this file has no revocation of it (revoked by a release
   * before this file). Kept beside the revocation, not in the ledger, whose lock a frozen
   * process may hold: a revoke behind one alerted unmarked, and the next revoke of the agent
   * alerted again (red team rt31: two webhooks for one revocation). Throws sqlite's busy
   * error when another process is writing a revocation right now.
   */
  markAlerted(handle: string): boolean | undefined {
    // A file of an earlier release, opened with its lock held, has no column yet: the ledger's.
    if (!this.#hasAlertColumn()) return undefined
    this.#markAlerted ??= this.#db.prepare(
      'UPDATE revocations SET alerted = 1 WHERE handle = ? AND alerted = 0',
    )
    if (Number(this.#markAlerted.run(handle).changes) > 0) return true
    return this.#hasMark.get(handle) === undefined ? undefined : false
  }

  /** Reads the marks written since the last sync, if any connection wrote (a few µs if not). */
  sync(): void {
    const version = (this.#dataVersion.get() as { data_version: number }).data_version
    if (version === this.#version) return
    this.#version = version
    const last = this.#marks.at(-1)?.seq ?? 0
    for (const row of this.#since.all(last) as unknown as MarkRow[]) {
      const mark: RevocationMark = {
        seq: row.seq,
        handle: row.handle,
        reason: row.reason,
        at: row.at,
        audit: row.audit === null ? undefined : (JSON.parse(row.audit) as AuditEntry),
      }
      this.#marks.push(mark)
      this.#byHandle.set(mark.handle, mark)
    }
  }

  /** The mark of `handle`, as of the last sync. */
  get(handle: string): RevocationMark | undefined {
    return this.#byHandle.get(handle)
  }

  /** The marks after `seq`, as of the last sync, oldest first. */
  after(seq: number): RevocationMark[] {
    let first = this.#marks.length
    while (first > 0 && (this.#marks[first - 1] as RevocationMark).seq > seq) first--
    return this.#marks.slice(first)
  }

  /** Whether the file at its path is still the one opened (not deleted nor replaced). */
  isTheFileOpened(): boolean {
    return this.#identity === undefined || fileIdentity(this.#path) === this.#identity
  }

  /** The newest mark's seq as of the last sync (0 when none). */
  get lastSeq(): number {
    return this.#marks.at(-1)?.seq ?? 0
  }

  close(): void {
    this.#db.close()
  }
}

function foreignRevocationsFile(ledgerPath: string): StoreUnavailableError {
  return new StoreUnavailableError(
    `The revocations file ${ledgerPath}-revocations belongs to another ledger than ${ledgerPath} (the ledger was deleted or replaced and this file kept, or it was copied from another deployment): its revocations would revoke this ledger's agents of the same names, so the store refuses to open. ` +
      `Fix: to start afresh, delete every file of the store (${sqliteStoreFiles(ledgerPath).join(', ')}); to restore a backup, restore all of them together from the same backup.`,
  )
}

/** The file could not be made ready: which lock stopped it, if one did (red team rt34). */
function lockedFile(ledgerPath: string, error: unknown): unknown {
  if (!isBusy(error)) return error
  return new StoreUnavailableError(
    `The revocations file ${ledgerPath}-revocations stayed locked by another process for 5 s (one frozen while it wrote a revocation?), and this open must create it: resume or stop that process, then retry`,
    { cause: error },
  )
}
