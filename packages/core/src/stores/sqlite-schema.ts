// The sqlite store's schema and its migrations, versioned with `PRAGMA user_version`.
// Migrations only ever append: version N is reached by running migrations 1..N in order, each
// in the same write transaction as the version bump, so a crash mid-migration leaves the
// previous version intact. A file written by a newer version of this package is refused
// (never "migrated down" or written to), because older code cannot know what it would break.

import type { DatabaseSync } from 'node:sqlite'
import { StoreUnavailableError } from '../errors.js'

/** The schema version this code reads and writes. */
export const SQLITE_SCHEMA_VERSION = 10

/**
 * Settled and released holds are kept in generations of this many ms of their end time
 * (`ended_holds.gen`), so that forgetting them is a delete of a key range: no index on the
 * time they ended, which every settle would write one page of. Fixed in the file's format:
 * every process sharing the file must agree on it.
 */
export const ENDED_GENERATION_MS = 15 * 60_000

/** Migration `i` takes the schema from version `i` to `i + 1`. */
const MIGRATIONS: readonly string[] = [
  // v1: agents, holds (live and finished, for idempotency), audit, activity windows, alert
  // marks, and the cross-process event log that the revocation poller reads.
  `
  CREATE TABLE agents (
    handle TEXT PRIMARY KEY,
    credential_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    cap_micros INTEGER NOT NULL,
    spent_micros INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT,
    policy TEXT NOT NULL
  ) STRICT;
  CREATE TABLE holds (
    handle TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- held: live until expires_at; settled / released: finished, kept for idempotency;
    -- expired: lapsed on its own (a late settle still records the spend).
    state TEXT NOT NULL CHECK (state IN ('held', 'settled', 'released', 'expired')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (handle, hold_id)
  ) STRICT, WITHOUT ROWID;
  -- Covers the sum of an agent's live holds, read by every reserve and every getAgent.
  CREATE INDEX holds_live ON holds (handle, expires_at, amount_micros) WHERE state = 'held';
  CREATE INDEX holds_finished ON holds (updated_at) WHERE state <> 'held';
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    handle TEXT NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
  ) STRICT;
  CREATE INDEX audit_by_agent ON audit (handle, seq);
  CREATE TABLE activity (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    handle TEXT NOT NULL,
    event TEXT NOT NULL
  ) STRICT;
  CREATE INDEX activity_by_agent ON activity (handle, seq);
  CREATE TABLE marks (
    handle TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (handle, key)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    type TEXT NOT NULL,
    handle TEXT NOT NULL,
    reason TEXT,
    at INTEGER NOT NULL
  ) STRICT;
  `,
  // v2: the ledger written once (ledger/ledger.ts). `held` and `unreconciled` become counters
  // kept by the transitions; a hold that lapses is charged (`lapsed`, with what it charged),
  // not released. Holds that lapsed under v1 were released back then and stay released.
  `
  ALTER TABLE agents ADD COLUMN held_micros INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE agents ADD COLUMN unreconciled_micros INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE holds_v2 (
    handle TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'settled', 'released', 'lapsed')),
    charged_micros INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (handle, hold_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO holds_v2 (handle, hold_id, amount_micros, expires_at, state, charged_micros, updated_at)
    SELECT handle, hold_id, amount_micros, expires_at,
      CASE state WHEN 'expired' THEN 'released' ELSE state END, 0, updated_at FROM holds;
  DROP TABLE holds;
  ALTER TABLE holds_v2 RENAME TO holds;
  UPDATE agents SET held_micros = (
    SELECT COALESCE(SUM(h.amount_micros), 0) FROM holds h
    WHERE h.handle = agents.handle AND h.state = 'held');
  CREATE INDEX holds_live ON holds (handle, expires_at) WHERE state = 'held';
  CREATE INDEX holds_due ON holds (expires_at) WHERE state = 'held';
  CREATE INDEX holds_finished ON holds (updated_at) WHERE state <> 'held';
  `,
  // v3: budgets at every level. Agents get windows (`limits`) and the shared budgets they
  // draw on; a hold remembers the window keys it was taken against (`levels`); `usage`
  // keeps spent and held per window key (ledger/levels.ts).
  `
  ALTER TABLE agents ADD COLUMN limits TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE agents ADD COLUMN budgets TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE holds ADD COLUMN levels TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE budgets (
    id TEXT PRIMARY KEY,
    limits TEXT NOT NULL,
    time_zone TEXT,
    parent_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE usage (
    key TEXT PRIMARY KEY,
    spent_micros INTEGER NOT NULL,
    held_micros INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // v4: approvals. A grant lives in its agent's row (so a reserve reads it in the same
  // transaction); requests and their decisions in their own table.
  `
  ALTER TABLE agents ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    handle TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX approvals_pending ON approvals (handle) WHERE status = 'pending';
  CREATE INDEX approvals_by_time ON approvals (created_at);
  `,
  // v5: fewer pages written per transaction (each is one WAL frame, ~5 µs). `next_expiry`
  // on the agent's row (a page every transition writes anyway) is a lower bound on the
  // earliest expiry of its live holds, so a transition skips the due-hold lookup until
  // then, and the global due index (one more page per reserve and per settle) goes. 0 means
  // "look": every existing agent is checked once, then the bound is exact again.
  `
  ALTER TABLE agents ADD COLUMN next_expiry INTEGER NOT NULL DEFAULT 0;
  DROP INDEX holds_due;
  `,
  // v6: live holds in a small table of their own, with no index: a reserve writes one page
  // there instead of a page of the big table plus one of the live index; the due lookup
  // scans only the agent's live holds. \`holds\` keeps the finished ones (settled, released,
  // lapsed) for idempotency until pruned.
  `
  CREATE TABLE live_holds (
    handle TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    levels TEXT NOT NULL,
    PRIMARY KEY (handle, hold_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO live_holds (handle, hold_id, amount_micros, expires_at, updated_at, levels)
    SELECT handle, hold_id, amount_micros, expires_at, updated_at, levels FROM holds
    WHERE state = 'held';
  DELETE FROM holds WHERE state = 'held';
  DROP INDEX holds_live;
  `,
  // v7: activity rows clustered by agent (one B-tree, no separate index, no AUTOINCREMENT
  // bookkeeping): a reserve with the detectors on writes one activity page instead of three.
  // seq now counts per agent; it only ever orders one agent's rows.
  `
  CREATE TABLE activity_v7 (
    handle TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (handle, seq)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO activity_v7 (handle, seq, event) SELECT handle, seq, event FROM activity;
  DROP TABLE activity;
  ALTER TABLE activity_v7 RENAME TO activity;
  `,
  // v8: settled and released holds clustered by the generation of their end time (15
  // minutes, ENDED_GENERATION_MS), then agent and id: a settle writes one page there instead
  // of a page of the table plus one of the index on their end time, and pruning deletes
  // whole old generations by key range. Lapsed holds, rare and kept for days, keep their own
  // table and its time index.
  `
  CREATE TABLE ended_holds (
    gen INTEGER NOT NULL,
    handle TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('settled', 'released')),
    charged_micros INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (gen, handle, hold_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO ended_holds (gen, handle, hold_id, amount_micros, expires_at, state,
      charged_micros, updated_at)
    SELECT updated_at / 900000, handle, hold_id, amount_micros, expires_at, state,
      charged_micros, updated_at
    FROM holds WHERE state IN ('settled', 'released');
  DELETE FROM holds WHERE state IN ('settled', 'released');
  DROP INDEX holds_finished;
  ALTER TABLE holds RENAME TO lapsed_holds;
  CREATE INDEX lapsed_by_time ON lapsed_holds (updated_at);
  `,
  // v9: what a live hold is for (a model id, a spend's description), named if it lapses.
  `
  ALTER TABLE live_holds ADD COLUMN label TEXT NOT NULL DEFAULT '';
  `,
  // v10: the ledger's identity, written into its `-revocations` file too, so that a file of
  // revocations from another ledger (the one before a ledger deleted to start afresh, or
  // another deployment's) is refused instead of revoking this ledger's agents of the same
  // names. Empty here: the store's open fills it (sqlite-revocations.ts, claim).
  `
  CREATE TABLE ledger_identity (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
  ) STRICT;
  `,
]

/**
 * The last migration a store can run without: its ledger identity (v10) only guards the
 * `-revocations` file's match, stamped by a later open (red team rt35: an upgrade behind a
 * frozen writer of the earlier release refused to open, and a revoke could not fire).
 */
const DEFERRABLE_FROM = SQLITE_SCHEMA_VERSION - 1
/** How long a deferrable migration waits for the write lock: a frozen process's past it. */
const DEFERRABLE_WAIT_MS = 1_000

/**
 * Brings the database at `path` to {@link SQLITE_SCHEMA_VERSION}, or refuses a newer one.
 * Safe when several processes open the same new file at once: the version is read again
 * inside the write transaction, so only the first one migrates. A file of the release before
 * (DEFERRABLE_FROM) whose write lock stays held a second is left as it is: `false`.
 */
export function migrateSqlite(db: DatabaseSync, path: string): boolean {
  const readVersion = () =>
    Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version)
  const refuseNewer = (version: number) =>
    new StoreUnavailableError(
      `The sqlite store at ${path} has schema version ${version}, newer than the ${SQLITE_SCHEMA_VERSION} this version of @killswitch/core understands; ` +
        'it was left untouched. Upgrade @killswitch/core in every process that shares this file',
    )
  const seen = readVersion()
  if (seen > SQLITE_SCHEMA_VERSION) throw refuseNewer(seen)
  if (seen === SQLITE_SCHEMA_VERSION) return true
  if (seen === DEFERRABLE_FROM && !beginWithin(db, DEFERRABLE_WAIT_MS)) return false
  if (seen !== DEFERRABLE_FROM) db.exec('BEGIN IMMEDIATE')
  try {
    const version = readVersion()
    if (version > SQLITE_SCHEMA_VERSION) throw refuseNewer(version)
    for (let next = version; next < SQLITE_SCHEMA_VERSION; next++) {
      db.exec(MIGRATIONS[next] as string)
    }
    // PRAGMA takes no bound parameters; the value is our own integer constant.
    db.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION}`)
    db.exec('COMMIT')
    return true
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw error
  }
}

/**
 * Begins a write transaction, waiting at most `waitMs` for the lock (then the connection's
 * own busy timeout again); false when it stayed held.
 */
export function beginWithin(db: DatabaseSync, waitMs: number): boolean {
  const timeout = (db.prepare('PRAGMA busy_timeout').get() as { timeout: number }).timeout
  db.exec(`PRAGMA busy_timeout = ${Math.min(timeout, waitMs)}`)
  try {
    db.exec('BEGIN IMMEDIATE')
    return true
  } catch (error) {
    if (isBusy(error)) return false
    throw error
  } finally {
    db.exec(`PRAGMA busy_timeout = ${timeout}`)
  }
}

/** Whether sqlite failed because another connection holds the lock it needed. */
export function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: number } | undefined)?.errcode
  // SQLITE_BUSY (5) and its extended codes (5 + 256 * n).
  if (typeof code === 'number' && (code & 0xff) === 5) return true
  return error instanceof Error && /database is locked|SQLITE_BUSY/i.test(error.message)
}
