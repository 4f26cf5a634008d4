// The embedded durable store: one sqlite file (node:sqlite, built into Node 22, no native
// build) shared safely by every process on a machine. WAL mode lets readers run beside the
// one writer; every ledger operation is ONE `BEGIN IMMEDIATE` transaction (it takes the write
// lock up front, so two processes can never both read the old balance and both reserve);
// `busy_timeout` makes a process wait its turn instead of failing at once. Other processes'
// revocations arrive through a cheap poll (see sqlite-event-poller.ts).

import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { DatabaseSync } from 'node:sqlite'
import type { AuditEntry } from '../audit.js'
import { InvalidConfigError, KillSwitchError, StoreUnavailableError } from '../errors.js'
import type { AgentPolicy } from '../policy.js'
import type {
  ActivityEvent,
  AgentRecord,
  NewAgentRecord,
  ReleaseRequest,
  ReleaseResult,
  ReserveRequest,
  ReserveResult,
  SettleRequest,
  SettleResult,
  Store,
  StoreEvent,
} from '../store.js'
import { SqliteEventPoller } from './sqlite-event-poller.js'
import { SqliteLedger } from './sqlite-ledger.js'
import { migrateSqlite } from './sqlite-schema.js'

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * How long an operation waits for another process's write lock before it fails with
   * StoreUnavailableError (fail closed), in ms. Default 5000. The wait blocks the event loop
   * (node:sqlite is synchronous); ledger transactions last microseconds, so it rarely does.
   */
  busyTimeoutMs?: number
  /** How often to look for other processes' revocations, in ms. Default 5. */
  pollIntervalMs?: number
  /**
   * How long settled and released hold ids are remembered, so that a repeated settle is a
   * no-op instead of a second charge, in ms. Default 24 hours.
   */
  holdRetentionMs?: number
}

const DEFAULTS = { busyTimeoutMs: 5000, pollIntervalMs: 5, holdRetentionMs: 24 * 3600_000 }

/**
 * A durable store in one sqlite file, shared by every process on the machine that opens the
 * same path. Creates the file's folder when missing (with a `.gitignore`, so a state folder
 * such as `.killswitch/` is never committed). Opening a file written by a newer version of
 * this package is refused, never downgraded.
 *
 * @example
 * import { createKillSwitch, sqliteStore } from '@killswitch/core'
 * const ks = createKillSwitch({ store: sqliteStore('.killswitch/state.db') })
 */
export function sqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidConfigError(
      'path',
      `sqliteStore(path) needs a file path such as '.killswitch/state.db' (got ${JSON.stringify(path)}).`,
    )
  }
  const resolved = { ...DEFAULTS }
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[key]
    if (value === undefined) continue
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidConfigError(
        key,
        `sqliteStore option ${key} must be a positive integer of milliseconds (got ${String(value)}).`,
      )
    }
    resolved[key] = value
  }
  return new SqliteStore(path, resolved)
}

class SqliteStore implements Store {
  readonly kind = 'sqlite'
  readonly #path: string
  readonly #db: DatabaseSync
  readonly #ledger: SqliteLedger
  readonly #poller: SqliteEventPoller
  readonly #listeners = new Set<(event: StoreEvent) => void>()
  readonly #holdRetentionMs: number
  #auditBuffer: AuditEntry[] = []
  #flushTimer: NodeJS.Immediate | NodeJS.Timeout | undefined
  #lastCleanup = 0
  #closed = false

  constructor(path: string, options: typeof DEFAULTS) {
    this.#path = path
    this.#holdRetentionMs = options.holdRetentionMs
    try {
      ensureFolder(path)
      const { DatabaseSync } = loadSqlite()
      this.#db = new DatabaseSync(path, { timeout: options.busyTimeoutMs })
    } catch (error) {
      throw this.#unavailable('open the file', error)
    }
    try {
      // WAL: readers never block the writer. synchronous=NORMAL: a commit survives a crash of
      // any process (the kill switch's threat); only a power loss may drop the last commits.
      this.#db.exec('PRAGMA journal_mode = WAL')
      this.#db.exec('PRAGMA synchronous = NORMAL')
      migrateSqlite(this.#db, path)
      const origin = randomUUID()
      this.#ledger = new SqliteLedger(this.#db, origin)
      this.#poller = new SqliteEventPoller(this.#db, origin, options.pollIntervalMs, (event) =>
        this.#publish(event),
      )
    } catch (error) {
      this.#db.close()
      throw this.#unavailable('open the file', error)
    }
  }

  async createAgent(record: NewAgentRecord): Promise<AgentRecord> {
    return this.#write('create an agent', () => this.#ledger.createAgent(record))
  }

  async getAgent(handle: string, now: number): Promise<AgentRecord | undefined> {
    return this.#read('read an agent', () => this.#ledger.getAgent(handle, now))
  }

  async findAgentByCredentialHash(hash: string, now: number): Promise<AgentRecord | undefined> {
    return this.#read('look up a credential', () => this.#ledger.findByCredentialHash(hash, now))
  }

  async listAgents(now: number): Promise<AgentRecord[]> {
    return this.#read('list agents', () => this.#ledger.listAgents(now))
  }

  async updateAgent(
    handle: string,
    patch: { capMicros?: number; policy?: AgentPolicy },
    now: number,
    audit?: AuditEntry,
  ): Promise<AgentRecord> {
    const agent = this.#write('update an agent', () =>
      this.#ledger.updateAgent(handle, patch, now, audit),
    )
    this.#publish({ type: 'updated', handle })
    return agent
  }

  async revokeAgent(
    handle: string,
    reason: string,
    now: number,
    audit?: AuditEntry,
  ): Promise<{ agent: AgentRecord; alreadyRevoked: boolean }> {
    const result = this.#write('revoke an agent', () =>
      this.#ledger.revokeAgent(handle, reason, now, audit),
    )
    if (!result.alreadyRevoked) {
      this.#publish({ type: 'revoked', handle, reason, at: result.agent.revokedAt ?? now })
    }
    return result
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    return this.#write('reserve', () => {
      this.#cleanup(request.now)
      return this.#ledger.reserve(request)
    })
  }

  async settle(request: SettleRequest): Promise<SettleResult> {
    return this.#write('settle', () => this.#ledger.settle(request))
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    return this.#write('release', () => this.#ledger.release(request))
  }

  appendAudit(entry: AuditEntry): void {
    if (this.#closed) throw this.#unavailable('append to the audit log', new Error('closed'))
    this.#auditBuffer.push(entry)
    // setImmediate batches every entry appended in this turn into one transaction, off the
    // caller's path. The timer is ref'd on purpose: buffered entries are written before exit.
    this.#flushTimer ??= setImmediate(() => this.#flushInBackground())
  }

  async readAudit(handle: string, options?: { limit?: number }): Promise<AuditEntry[]> {
    await this.flush()
    return this.#read('read the audit log', () => this.#ledger.readAudit(handle, options?.limit))
  }

  async recordActivity(
    handle: string,
    event: ActivityEvent,
    keep: number,
  ): Promise<ActivityEvent[]> {
    return this.#write('record activity', () => this.#ledger.recordActivity(handle, event, keep))
  }

  async markOnce(handle: string, key: string): Promise<boolean> {
    return this.#write('set an alert mark', () => this.#ledger.markOnce(handle, key))
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener)
    if (!this.#closed && !this.#poller.running) {
      try {
        this.#poller.start()
      } catch {
        // Unreadable right now: the ledger fails closed anyway; the next subscribe retries.
      }
    }
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.#poller.stop()
    }
  }

  async flush(): Promise<void> {
    if (this.#auditBuffer.length === 0) return
    this.#write('write the audit log', () => undefined)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
    } finally {
      this.#closed = true
      if (this.#poller.running) this.#poller.poll()
      this.#poller.stop()
      this.#listeners.clear()
      clearImmediate(this.#flushTimer as NodeJS.Immediate)
      clearTimeout(this.#flushTimer as NodeJS.Timeout)
      this.#flushTimer = undefined
      this.#db.close()
    }
  }

  /**
   * Runs `body` in one write transaction. Buffered audit entries are written first in the
   * same transaction: they cost no extra commit and keep the log in call order. On any
   * failure the transaction rolls back and the buffered entries stay buffered.
   */
  #write<T>(operation: string, body: () => T): T {
    if (this.#closed) throw this.#unavailable(operation, new Error('the store is closed'))
    const pending = this.#auditBuffer
    this.#auditBuffer = []
    try {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        this.#ledger.insertAudit(pending)
        const result = body()
        this.#db.exec('COMMIT')
        return result
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK')
        throw error
      }
    } catch (error) {
      this.#auditBuffer = pending.concat(this.#auditBuffer)
      throw KillSwitchError.isInstance(error) ? error : this.#unavailable(operation, error)
    }
  }

  #read<T>(operation: string, body: () => T): T {
    if (this.#closed) throw this.#unavailable(operation, new Error('the store is closed'))
    try {
      return body()
    } catch (error) {
      throw KillSwitchError.isInstance(error) ? error : this.#unavailable(operation, error)
    }
  }

  #flushInBackground(): void {
    this.#flushTimer = undefined
    if (this.#closed || this.#auditBuffer.length === 0) return
    try {
      this.#write('write the audit log', () => undefined)
    } catch {
      // Still buffered; retry shortly. flush(), readAudit() and close() surface the error.
      this.#flushTimer = setTimeout(() => this.#flushInBackground(), 100)
    }
  }

  /** Forgets finished holds and old events, at most once a minute, inside a reserve. */
  #cleanup(now: number): void {
    if (now - this.#lastCleanup < 60_000) return
    this.#lastCleanup = now
    this.#ledger.prune(now - this.#holdRetentionMs, now - 3600_000)
  }

  #publish(event: StoreEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch {
        // One failing listener must not keep the others (guards' aborts) from hearing it.
      }
    }
  }

  #unavailable(operation: string, error: unknown): StoreUnavailableError {
    const detail = error instanceof Error ? error.message : String(error)
    return new StoreUnavailableError(
      `The sqlite store at ${this.#path} could not ${operation} (${detail})`,
      { cause: error },
    )
  }
}

/** Creates the folder of a new database file, with a `.gitignore` that ignores it all. */
function ensureFolder(path: string): void {
  if (path === ':memory:' || path.startsWith('file:')) return
  const folder = dirname(path)
  if (existsSync(folder)) return
  mkdirSync(folder, { recursive: true })
  writeFileSync(join(folder, '.gitignore'), '# Kill switch state: never commit it.\n*\n')
}

/**
 * Loads node:sqlite on first use (programs on the memory store never load it), without the
 * one-time "SQLite is an experimental feature" warning that Node 22 prints: the user chose
 * this store, and a warning on every CLI run reads like an error at 2 AM.
 */
function loadSqlite(): typeof import('node:sqlite') {
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const message = typeof warning === 'string' ? warning : warning.message
    if (message.includes('SQLite is an experimental feature')) return
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    return createRequire(import.meta.url)('node:sqlite') as typeof import('node:sqlite')
  } finally {
    process.emitWarning = emitWarning
  }
}
