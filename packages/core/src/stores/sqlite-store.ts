// The embedded durable store: one sqlite file (node:sqlite, built into Node 22, no native
// build) shared safely by every process on a machine. WAL mode lets readers run beside the
// one writer; every ledger transition (ledger/ledger.ts) is ONE `BEGIN IMMEDIATE`
// transaction (it takes the write lock up front, so two processes can never both read the
// old balance and both reserve). node:sqlite is synchronous, so a busy lock is never waited
// for inside sqlite (that would freeze the event loop): the store retries asynchronously.
// Other processes' revocations arrive through a cheap poll (see sqlite-event-poller.ts).

import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve as resolvePath } from 'node:path'
import type { DatabaseSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AuditEntry } from '../audit.js'
import type { Awaitable } from '../awaitable.js'
import {
  AgentExistsError,
  AgentNotFoundError,
  InvalidConfigError,
  KillSwitchError,
  RevocationUnreplicatedError,
  StoreUnavailableError,
} from '../errors.js'
import { approvalAt } from '../ledger/approvals.js'
import { UNRECONCILED_RETENTION_MS } from '../ledger/ledger.js'
import { checkTime } from '../ledger/ledger-input.js'
import type {
  ActivityEvent,
  AgentPatch,
  AgentRecord,
  ApprovalRecord,
  AuditPage,
  BudgetRecord,
  DecideApprovalRequest,
  LeaveApprovalRequest,
  LimitRecord,
  NewAgentRecord,
  OpenApprovalRequest,
  ReleaseRequest,
  ReleaseResult,
  RenewRequest,
  RenewResult,
  ReserveRequest,
  ReserveResult,
  SettleRequest,
  SettleResult,
  Store,
  StoreEvent,
  UsageRecord,
} from '../store.js'
import { REVOKED_ALERT_MARK } from '../store.js'
import { SqliteEventPoller } from './sqlite-event-poller.js'
import { createOwnerOnly, fileIdentity, inMemoryPath, restrictToOwner } from './sqlite-files.js'
import { PRUNE_BATCH, SqliteLedger } from './sqlite-ledger.js'
import { SqliteRevocations } from './sqlite-revocations.js'
import { beginWithin, isBusy, migrateSqlite } from './sqlite-schema.js'
import { StoreListeners } from './store-listeners.js'

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * How long an operation waits for another process's write lock before it fails with
   * StoreUnavailableError (fail closed), in ms. Default 5000. The wait is asynchronous
   * (retries with backoff): the event loop keeps running meanwhile.
   */
  busyTimeoutMs?: number
  /** How often to look for other processes' revocations, in ms. Default 5. */
  pollIntervalMs?: number
  /**
   * How long settled and released hold ids are remembered after they end, so that a
   * settle delivered twice (a reply lost, then retried) is a no-op instead of a second
   * charge, in ms. Default 15 minutes. They are forgotten 15 minutes' worth at a time, so
   * each is kept up to 15 minutes longer. At most 7 days. Lapsed holds are kept 35 days
   * (UNRECONCILED_RETENTION_MS), so that a late settlement or a reconcile can still correct
   * their charge; then written off.
   */
  holdRetentionMs?: number
  /**
   * How long audit entries are kept, in ms; older ones are deleted in small batches.
   * Default: kept for good (the audit log is the record of what was spent).
   */
  auditRetentionMs?: number
}

const DEFAULTS = {
  busyTimeoutMs: 5000,
  pollIntervalMs: 5,
  holdRetentionMs: 15 * 60_000,
  auditRetentionMs: Number.MAX_SAFE_INTEGER,
}
/**
 * The longest `holdRetentionMs`: each reserve seeks an ended hold in every 15-minute
 * generation the retention keeps (~0.1 µs each; 7 days is 674 of them).
 */
const MAX_HOLD_RETENTION_MS = 7 * 24 * 3600_000
/** Finished holds are pruned at most this often (in small batches; sooner while more wait). */
const PRUNE_EVERY_MS = 1_000
/** Events older than this may be pruned, once EVENTS_KEPT newer ones follow them. */
const EVENT_RETENTION_MS = 3600_000
/**
 * How long a step that must not wait out a frozen process waits for a lock: a revoke for the
 * revocations file's (before it writes the ledger alone), a read's charge of lapsed holds, an
 * alert mark, an open stamping an existing ledger. Writes hold either lock for milliseconds,
 * so one held longer is a frozen process's.
 */
const FROZEN_LOCK_WAIT_MS = 1_000
/** How soon a revocation the ledger's lock held back is tried again (in the background). */
const APPLY_RETRY_MS = 100
/** The most agents whose guards' revocations a resync reads (the oldest looked up go first). */
const WATCHED_MAX = 10_000
/**
 * The file's identity is checked at most this often (monotonic ms). A stat is a system call
 * (10-20 µs on a virtual machine, as much as a whole transaction's statements), so it is not
 * paid by every operation: an operation at most this long after the file was deleted or
 * replaced may still land in the old file; every one after it fails closed.
 */
const IDENTITY_CHECK_MS = 1

/**
 * Between operations (the event poller's ticks, every few ms) the identity is checked at most
 * this often: two stats a tick would be most of an idle process's work; a deleted file still
 * stops the calls in flight within a tenth of a second.
 */
const IDLE_IDENTITY_CHECK_MS = 100

const REPLACED =
  'the file or its -revocations file was deleted or replaced while open; restart every process that uses it'

/**
 * A durable store in one sqlite file, shared by every process on the machine that opens the
 * same path. Creates the file's folder when missing (with a `.gitignore`, so a state folder
 * such as `.killswitch/` is never committed). Opening a file written by a newer version of
 * this package is refused, never downgraded.
 *
 * Durability: an operation answers only once its transaction has committed to the WAL. With
 * `synchronous = NORMAL` (WAL mode) a commit survives the crash of any process, SIGKILL
 * included, which is the threat a kill switch plans for. The WAL is fsynced at checkpoints,
 * not at each commit: an operating-system crash or a power loss may undo the transactions
 * committed since the last checkpoint (never corrupt the file). A reserve undone that way
 * frees its hold, a settle undone that way forgets its spend. That, and no more, is what an
 * acknowledged operation may lose; `synchronous = FULL` would close it at an fsync per
 * transaction (a multiple of the whole transaction's cost). The `-wal` file holds those
 * commits until a checkpoint: one damaged on disk is cut at its first bad frame when the file
 * is next opened, silently, and the commits after it are lost (red team rt30: half of a run's
 * recorded spend gone, no error). Keep the database and its `-wal`, `-shm` and `-revocations`
 * files together on a local disk, and back them up, move or delete them together
 * (`sqliteStoreFiles(path)` lists them): a revocations file kept beside a new ledger is
 * refused, as it would revoke the new ledger's agents of the same names.
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
  if (resolved.holdRetentionMs > MAX_HOLD_RETENTION_MS) {
    throw new InvalidConfigError(
      'holdRetentionMs',
      `sqliteStore option holdRetentionMs must be at most ${MAX_HOLD_RETENTION_MS} ms (7 days; got ${resolved.holdRetentionMs}).`,
    )
  }
  // A file path is made absolute now: the process may change its directory later, and the
  // store checks its files by path (red team rt42a: a relative path read as deleted after a
  // chdir, and every call in flight was stopped).
  return new SqliteStore(inMemoryPath(path) ? path : resolvePath(path), resolved)
}

class SqliteStore implements Store {
  readonly kind = 'sqlite'
  readonly #path: string
  readonly #db: DatabaseSync
  readonly #ledger: SqliteLedger
  readonly #poller: SqliteEventPoller
  /** Revocations, in a file whose lock no ledger write holds (sqlite-revocations.ts). */
  readonly #revocations: SqliteRevocations
  /** The revocations file's marks this process applied to the ledger (committed), by seq. */
  #applied = 0
  /** The marks this process's listeners were told of, by seq (from the poller's start). */
  #announced = 0
  /** Agents whose revocation was published here: once each, whatever told us of it. */
  readonly #heard = new Set<string>()
  /** A revocation waiting for the ledger's lock, retried in the background. */
  #applyTimer: NodeJS.Timeout | undefined
  readonly #listeners = new StoreListeners()
  /**
   * The agents this process looked up by credential (its guards' agents), and whether their
   * revocation was published here. When the poller missed events, their status is read
   * instead, so a guard's signal aborts even if the event was pruned unread.
   */
  readonly #watched = new Map<string, boolean>()
  readonly #auditRetentionMs: number
  readonly #busyTimeoutMs: number
  /** The file's identity when opened: a file deleted or replaced under us fails closed. */
  readonly #identity: string | undefined
  /** When the file's identity was last checked (monotonic ms). */
  #identityCheckedAt = Number.NEGATIVE_INFINITY
  /** Set for good once the file was seen deleted or replaced. */
  #replaced = false
  #auditBuffer: AuditEntry[] = []
  #flushTimer: NodeJS.Immediate | NodeJS.Timeout | undefined
  #nextPrune = 0
  #closed = false

  constructor(path: string, options: typeof DEFAULTS) {
    let Database: typeof DatabaseSync
    this.#path = path
    this.#auditRetentionMs = options.auditRetentionMs
    this.#busyTimeoutMs = options.busyTimeoutMs
    try {
      ensureFolder(path)
      createOwnerOnly(path)
      const { DatabaseSync } = loadSqlite()
      // timeout 0: sqlite never sleeps on a busy lock (that would block the event loop).
      this.#db = new DatabaseSync(path, { timeout: 0 })
      Database = DatabaseSync
    } catch (error) {
      throw this.#unavailable('open the file', error)
    }
    try {
      // Opening waits its turn (the constructor is synchronous anyway): another process may
      // be checkpointing, closing the last connection (which removes the WAL) or migrating a
      // new file. A revoke from the CLI must not fail because another command was running.
      this.#db.exec('PRAGMA busy_timeout = 5000')
      // WAL: readers never block the writer; risks nothing (the -wal and -shm files must stay
      // beside the database, on a local disk). synchronous=NORMAL: a commit survives a crash
      // of any process (the kill switch's threat); an OS crash or power loss may undo the
      // commits since the last checkpoint (see the durability note on sqliteStore).
      this.#db.exec('PRAGMA journal_mode = WAL')
      restrictToOwner(path)
      this.#identity = fileIdentity(path)
      this.#db.exec('PRAGMA synchronous = NORMAL')
      const migrated = migrateSqlite(this.#db, path)
      this.#revocations = openRevocations(this.#db, Database, path, migrated)
      this.#db.exec('PRAGMA busy_timeout = 0')
      restrictToOwner(`${path}-wal`)
      restrictToOwner(`${path}-shm`)
      const origin = randomUUID()
      this.#ledger = new SqliteLedger(this.#db, origin, options.holdRetentionMs)
      this.#poller = new SqliteEventPoller(
        this.#db,
        origin,
        options.pollIntervalMs,
        (event) => this.#publish(event),
        () => this.#resync(),
        () => {
          this.#announceRevocations()
          // Seen between operations too: the calls in flight stop at once (a `lost` event).
          this.#lookForReplacement(IDLE_IDENTITY_CHECK_MS)
        },
      )
    } catch (error) {
      this.#db.close()
      throw this.#unavailable('open the file', error)
    }
  }

  async createAgent(record: NewAgentRecord): Promise<AgentRecord> {
    return this.#write('create an agent', () => {
      // A handle revoked once is never an agent's again: a ledger restored from a backup older
      // than a revocation on file lacks that agent, and a new one of its name was born
      // revoked, with the old one's reason (red team rt34).
      const revoked = this.#revocations.get(record.handle)
      if (revoked !== undefined && this.#ledger.agent(record.handle) === undefined) {
        throw new AgentExistsError(
          record.handle,
          `An agent with the handle "${record.handle}" was revoked in this store (${new Date(revoked.at).toISOString()}: its revocation is in ${this.#path}-revocations, though the ledger, restored from an older backup, lacks it). A handle is never reused once revoked. Pick another handle.`,
        )
      }
      return this.#ledger.createAgent(record)
    })
  }

  async getAgent(handle: string, now: number): Promise<AgentRecord | undefined> {
    const { agent, due } = this.#read('read an agent', () => this.#ledger.peek(handle, now))
    if (!due) return agent && this.#withRevocation(agent)
    // Holds lapsed since the last write: charge them first (a write), then answer. Not
    // behind a lock held past FROZEN_LOCK_WAIT_MS: a process frozen inside a write
    // holds it, its own holds lapse, and a revoke reads the agent before it writes the
    // revocations file (red team rt35: the revoke failed after 25 s and was lost). Answered
    // as the charge would leave it then, written by the next write.
    try {
      return await this.#writeWithin('charge lapsed holds', () => this.#ledger.sweep(handle, now))
    } catch (error) {
      if (!(error instanceof LockHeld)) throw error
      const swept = this.#read('read an agent', () => this.#ledger.swept(handle, now))
      return swept && this.#withRevocation(swept)
    }
  }

  /** FROZEN_LOCK_WAIT_MS, within this store's own busy timeout. */
  get #lockWaitMs(): number {
    return Math.min(this.#busyTimeoutMs, FROZEN_LOCK_WAIT_MS)
  }

  async findAgentByCredentialHash(hash: string, now: number): Promise<AgentRecord | undefined> {
    checkTime('now', now)
    const handle = this.#read('look up a credential', () => this.#ledger.handleOf(hash))
    if (handle === undefined) return undefined
    this.#watch(handle)
    return this.getAgent(handle, now)
  }

  async listAgents(now: number): Promise<AgentRecord[]> {
    const { agents, due } = this.#read('list agents', () => this.#ledger.listAgents(now))
    if (!due) return agents.map((agent) => this.#withRevocation(agent))
    // As getAgent: behind a lock held past the wait, answered as the charge would leave them
    // (red team rt36: the console's list, its revoke screen, failed after 5 s).
    try {
      const swept = await this.#writeWithin('charge lapsed holds', () => {
        this.#ledger.sweepAll(now)
        return this.#ledger.listAgents(now).agents
      })
      return swept.map((agent) => this.#withRevocation(agent))
    } catch (error) {
      if (!(error instanceof LockHeld)) throw error
      return this.#read('list agents', () =>
        agents.map((agent) => this.#ledger.swept(agent.handle, now) ?? agent),
      ).map((agent) => this.#withRevocation(agent))
    }
  }

  async updateAgent(
    handle: string,
    patch: AgentPatch,
    now: number,
    audit?: AuditEntry,
  ): Promise<AgentRecord> {
    const agent = await this.#write('update an agent', () =>
      this.#ledger.updateAgent(handle, patch, now, audit),
    )
    this.#listeners.publish({ type: 'updated', handle })
    return agent
  }

  async revokeAgent(
    handle: string,
    reason: string,
    now: number,
    audit?: AuditEntry,
  ): Promise<{ agent: AgentRecord; alreadyRevoked: boolean }> {
    checkTime('now', now)
    const known = this.#read('read an agent', () => this.#ledger.peek(handle, now)).agent
    if (!known) throw new AgentNotFoundError(handle)
    if (known.status === 'revoked') return { agent: known, alreadyRevoked: true }
    // In force once written here: no ledger write (a frozen process may hold its lock) comes
    // before it. Its own lock is busy only while another revocation is written, or held by a
    // process frozen while it wrote one: then the ledger takes it alone, as before this file
    // (red team rt33: the revoke failed after 5 s and was lost). Both locks held by frozen
    // processes at once, the revoke fails closed (StoreUnavailableError) and is retried.
    let marked: boolean
    try {
      marked = await this.#toRevocationFile(
        'revoke an agent',
        () => this.#revocations.mark(handle, reason, now, audit),
        this.#lockWaitMs,
      )
    } catch (error) {
      if (!(error instanceof LockHeld)) throw error
      const revoked = await this.#write('revoke an agent', () =>
        this.#ledger.revokeAgent(handle, reason, now, audit),
      )
      if (!revoked.alreadyRevoked) this.#publish({ type: 'revoked', handle, reason, at: now })
      return revoked
    }
    if (marked) this.#publish({ type: 'revoked', handle, reason, at: now })
    // In the ledger too (every write applies revocations first): waited for as any write.
    try {
      await this.#write('revoke an agent', () => undefined)
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error
      this.#applyLater()
      // In force for every process that reads the revocations file, not yet in the ledger:
      // said as it is (red team rt31: a process of an older release, or one whose file was
      // deleted, reads only the ledger, and kept spending after a revoke reported confirmed).
      throw new RevocationUnreplicatedError(
        {
          handle,
          alreadyRevoked: !marked,
          pending: 'ledger',
          message: `The revocation of agent "${handle}" is in force now in every process that reads ${this.#path}-revocations (this release and later): they refuse its credential. The ledger could not record it yet (${error.message}: a process frozen inside a transaction holds its lock); the next write of any process records it, and it is retried while this process runs. A process of an older release reads only the ledger and accepts the credential until then: stop or upgrade those`,
        },
        { cause: error },
      )
    }
    const agent = this.#read('read an agent', () => this.#ledger.peek(handle, now)).agent
    return { agent: agent ?? known, alreadyRevoked: !marked }
  }

  // Answered at once when the lock is free (store.ts): the guard then needs no promise.
  reserve(request: ReserveRequest): Awaitable<ReserveResult> {
    return this.#writeNow('reserve', () => {
      this.#prune(request.now, request.handle)
      return this.#ledger.reserve(request)
    })
  }

  async renew(request: RenewRequest): Promise<RenewResult> {
    return this.#write('renew a hold', () => this.#ledger.renew(request))
  }

  settle(request: SettleRequest): Awaitable<SettleResult> {
    return this.#writeNow('settle', () => this.#ledger.settle(request))
  }

  release(request: ReleaseRequest): Awaitable<ReleaseResult> {
    return this.#writeNow('release', () => this.#ledger.release(request))
  }

  appendAudit(entry: AuditEntry): void {
    if (this.#closed) throw this.#unavailable('append to the audit log', new Error('closed'))
    this.#auditBuffer.push(entry)
    // setImmediate batches every entry appended in this turn into one transaction, off the
    // caller's path. The timer is ref'd on purpose: buffered entries are written before exit.
    this.#flushTimer ??= setImmediate(() => this.#flushInBackground())
  }

  async readAudit(handle: string, page?: AuditPage): Promise<AuditEntry[]> {
    await this.flush()
    return this.#read('read the audit log', () => this.#ledger.readAudit(handle, page))
  }

  async recordActivity(
    handle: string,
    events: ActivityEvent | readonly ActivityEvent[],
    keep: number,
  ): Promise<ActivityEvent[]> {
    const batch = Array.isArray(events) ? events : [events as ActivityEvent]
    return this.#write('record activity', () => this.#ledger.recordActivity(handle, batch, keep))
  }

  async markOnce(handle: string, key: string): Promise<boolean> {
    const inLedger = () =>
      this.#write('set an alert mark', () => this.#ledger.markOnce(handle, key))
    // A revocation the ledger took alone (its file locked) has its alert's mark there too.
    if (key !== REVOKED_ALERT_MARK || !this.#revokedInFile(handle)) return inLedger()
    // Beside the revocation (sqlite-revocations.ts, markAlerted): no frozen ledger writer
    // stops it, so a revoke behind one marks its alert as any other does. Its lock held by a
    // frozen process past the wait: the ledger's marks, as a revoke does then.
    const inFile = await Promise.resolve(
      this.#toRevocationFile(
        'mark an alert',
        () => this.#revocations.markAlerted(handle),
        this.#lockWaitMs,
      ),
    ).catch((error) => {
      if (error instanceof LockHeld) return undefined
      throw error
    })
    if (inFile !== true) return inFile ?? inLedger()
    // The ledger's mark too: a revoke that wrote the ledger alone (this file locked) marked
    // its alert there (red team rt34: two webhooks for one revocation). Waited for as a revoke
    // waits on this file: another process's write holds the lock for milliseconds (red team
    // rt35: 3 ms writes of an honest process made 13-15 webhooks for 10 revocations). Held
    // past it (a frozen process), or failing, the file's word stands: twice, never none.
    try {
      return await this.#writeWithin('set an alert mark', () => this.#ledger.markOnce(handle, key))
    } catch {
      return true
    }
  }

  async createBudget(record: BudgetRecord): Promise<BudgetRecord> {
    return this.#write('create a budget', () => this.#ledger.createBudget(record))
  }

  async getBudget(id: string): Promise<BudgetRecord | undefined> {
    return this.#read('read a budget', () => this.#ledger.budget(id))
  }

  async listBudgets(): Promise<BudgetRecord[]> {
    return this.#read('list budgets', () => this.#ledger.listBudgets())
  }

  async updateBudget(
    id: string,
    patch: { limits?: LimitRecord[]; timeZone?: string },
    now: number,
  ): Promise<BudgetRecord> {
    return this.#write('update a budget', () => this.#ledger.updateBudget(id, patch, now))
  }

  async openApproval(
    request: OpenApprovalRequest,
  ): Promise<{ approval: ApprovalRecord; created: boolean }> {
    return this.#write('open an approval request', () => this.#ledger.openApproval(request))
  }

  async leaveApproval(request: LeaveApprovalRequest): Promise<void> {
    await this.#write('leave an approval request', () => this.#ledger.leaveApproval(request))
  }

  async decideApproval(request: DecideApprovalRequest): Promise<ApprovalRecord> {
    const decided = await this.#write('decide an approval request', () =>
      this.#ledger.decideApproval(request),
    )
    this.#listeners.publish({ type: 'updated', handle: decided.handle })
    return decided
  }

  async getApproval(id: string, now: number): Promise<ApprovalRecord | undefined> {
    const record = this.#read('read an approval request', () => this.#ledger.approval(id))
    return record && approvalAt(record, now)
  }

  async listApprovals(
    now: number,
    filter: { status?: ApprovalRecord['status'] } = {},
  ): Promise<ApprovalRecord[]> {
    const records = this.#read('list approval requests', () => this.#ledger.listApprovals())
    return records
      .map((record) => approvalAt(record, now))
      .filter((record) => filter.status === undefined || record.status === filter.status)
  }

  async readUsage(keys: readonly string[]): Promise<UsageRecord[]> {
    return this.#read('read budget usage', () => keys.map((key) => this.#ledger.usage(key)))
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    const remove = this.#listeners.add(listener)
    if (!this.#closed && !this.#poller.running) {
      try {
        // From the revocations present now: history before the subscription is not replayed.
        this.#revocations.sync()
        this.#announced = this.#revocations.lastSeq
        this.#poller.start()
      } catch {
        // Unreadable right now: the ledger fails closed anyway; the next subscribe retries.
      }
    }
    return () => {
      remove()
      if (this.#listeners.size === 0) this.#poller.stop()
    }
  }

  async flush(): Promise<void> {
    if (this.#auditBuffer.length === 0) return
    await this.#write('write the audit log', () => undefined)
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
      clearTimeout(this.#applyTimer)
      this.#revocations.close()
      this.#db.close()
    }
  }

  /**
   * Runs `body` in one write transaction, retrying asynchronously while another process
   * holds the write lock, up to busyTimeoutMs; then fails closed.
   */
  #write<T>(operation: string, body: () => T): Promise<T> {
    return Promise.resolve(this.#writeNow(operation, body))
  }

  /**
   * The common case, the lock free: one attempt answered at once (a value), no async retry
   * loop around it; a busy lock retries asynchronously, and a failure is a rejected promise.
   */
  #writeNow<T>(operation: string, body: () => T): Awaitable<T> {
    try {
      return this.#writeOnce(operation, body)
    } catch (error) {
      if (!(error instanceof BusyError)) return Promise.reject(error)
      return this.#whileBusy(operation, () => this.#writeOnce(operation, body), 'the write lock')
    }
  }

  /** #write, waiting at most #lockWaitMs for the lock; past it a LockHeld. */
  async #writeWithin<T>(operation: string, body: () => T): Promise<T> {
    try {
      return this.#writeOnce(operation, body)
    } catch (error) {
      if (!(error instanceof BusyError)) throw error
      const again = () => this.#writeOnce(operation, body)
      return this.#whileBusy(operation, again, 'the write lock', this.#lockWaitMs, lockHeld)
    }
  }

  /** Whether the revocations file has a revocation of `handle` (as of a sync now). */
  #revokedInFile(handle: string): boolean {
    this.#revocations.sync()
    return this.#revocations.get(handle) !== undefined
  }

  /**
   * A write to the revocations file: at once, or retried while another process writes a
   * revocation (#whileBusy). No ledger lock is taken.
   */
  #toRevocationFile<T>(
    operation: string,
    write: () => T,
    waitMs = this.#busyTimeoutMs,
  ): T | Promise<T> {
    const attempt = () => {
      this.#checkOpen(operation)
      try {
        return write()
      } catch (error) {
        if (isBusy(error)) throw new BusyError()
        throw this.#unavailable(operation, error)
      }
    }
    try {
      return attempt()
    } catch (error) {
      if (!(error instanceof BusyError)) throw error
      // Only the wait's end is the file's lock held: another failure is itself.
      return this.#whileBusy(operation, attempt, 'the revocations file', waitMs, lockHeld)
    }
  }

  /**
   * Applies to the ledger, inside the write transaction begun, the revocations this process
   * has not applied yet; returns the seq applied up to (kept once the transaction commits).
   */
  #applyRevocations(): number {
    this.#revocations.sync()
    let applied = this.#applied
    for (const mark of this.#revocations.after(this.#applied)) {
      // Marked only for an agent this file has (and agents are never deleted): a mark for
      // one it lacks (another file's, copied beside it) is skipped, not a write that fails.
      const known = this.#ledger.peek(mark.handle, mark.at).agent !== undefined
      if (known && this.#ledger.revocation(mark.handle) === undefined) {
        this.#ledger.revokeAgent(mark.handle, mark.reason, mark.at, mark.audit)
      }
      applied = mark.seq
    }
    return applied
  }

  /** Retries a write until the revocations written are in the ledger (a frozen lock holder). */
  #applyLater(): void {
    if (this.#applyTimer !== undefined || this.#closed) return
    this.#applyTimer = setTimeout(() => {
      this.#applyTimer = undefined
      this.#revocations.sync()
      if (this.#closed || this.#applied >= this.#revocations.lastSeq) return
      this.#write('apply a revocation', () => undefined).catch(() => this.#applyLater())
    }, APPLY_RETRY_MS)
    this.#applyTimer.unref()
  }

  /** The agent as its revocation, if one is written, makes it (the ledger may lag it). */
  #withRevocation(agent: AgentRecord): AgentRecord {
    if (agent.status === 'revoked') return agent
    this.#revocations.sync()
    const mark = this.#revocations.get(agent.handle)
    if (!mark) return agent
    return { ...agent, status: 'revoked', revokedAt: mark.at, revokedReason: mark.reason }
  }

  /** Each poll: tells listeners of revocations written by other processes since the start. */
  #announceRevocations(): void {
    this.#revocations.sync()
    for (const mark of this.#revocations.after(this.#announced)) {
      this.#announced = mark.seq
      this.#publish({ type: 'revoked', handle: mark.handle, reason: mark.reason, at: mark.at })
    }
  }

  /** After a first attempt found `lock` busy (the ledger's, or the revocations file's): retries with backoff until busyTimeoutMs. */
  async #whileBusy<T>(
    operation: string,
    attempt: () => T,
    lock: string,
    waitMs = this.#busyTimeoutMs,
    /** The error the wait ends in past `waitMs`, made of the StoreUnavailableError. */
    ended: (busy: StoreUnavailableError) => StoreUnavailableError = (busy) => busy,
  ): Promise<T> {
    const deadline = Date.now() + waitMs
    for (let tries = 0; ; tries++) {
      // Backoff with jitter: from about 0.5 ms up to 20 ms between tries.
      await sleep(Math.min(20, 0.5 * 2 ** Math.min(tries, 6)) * (0.5 + Math.random()))
      try {
        return attempt()
      } catch (error) {
        if (!(error instanceof BusyError)) throw error
        if (Date.now() >= deadline) {
          const busy = this.#unavailable(
            operation,
            new Error(`${lock} stayed busy for ${waitMs} ms`),
          )
          throw ended(busy)
        }
      }
    }
  }

  /**
   * One attempt at a write transaction. Buffered audit entries are written first in the
   * same transaction: they cost no extra commit and keep the log in call order. On any
   * failure the transaction rolls back and the buffered entries stay buffered.
   */
  #writeOnce<T>(operation: string, body: () => T): T {
    this.#checkOpen(operation)
    const pending = this.#auditBuffer
    this.#auditBuffer = []
    try {
      this.#db.exec('BEGIN IMMEDIATE')
      this.#ledger.beginTransaction()
      try {
        this.#ledger.insertAudit(pending)
        // Revocations first: nothing this write does comes before one already in force.
        const applied = this.#applyRevocations()
        const result = body()
        this.#db.exec('COMMIT')
        this.#applied = applied
        return result
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK')
        throw error
      }
    } catch (error) {
      this.#auditBuffer = pending.concat(this.#auditBuffer)
      if (isBusy(error)) throw new BusyError()
      throw KillSwitchError.isInstance(error) ? error : this.#unavailable(operation, error)
    }
  }

  #read<T>(operation: string, body: () => T): T {
    this.#checkOpen(operation)
    try {
      return body()
    } catch (error) {
      throw KillSwitchError.isInstance(error) ? error : this.#unavailable(operation, error)
    }
  }

  /** Fails closed once the store is closed, or its file was deleted or replaced. */
  #checkOpen(operation: string): void {
    if (this.#closed) throw this.#unavailable(operation, new Error('the store is closed'))
    this.#lookForReplacement()
    if (this.#replaced) throw this.#unavailable(operation, new Error(REPLACED))
  }

  /**
   * Checks (at most every `everyMs`: IDENTITY_CHECK_MS for an operation, IDLE_IDENTITY_CHECK_MS
   * between them) that the file and its revocations file are the
   * ones opened. Once either is not, for good: every operation fails closed, and listeners
   * hear `lost`, so that calls in flight stop at once (red team rt41b: they streamed on for
   * 19 s, to their second failed renewal).
   */
  #lookForReplacement(everyMs = IDENTITY_CHECK_MS): void {
    if (this.#identity === undefined || this.#replaced || this.#closed) return
    const at = performance.now()
    if (at - this.#identityCheckedAt < everyMs) return
    this.#identityCheckedAt = at
    // Its revocations file too: a process that no longer reads the one others write to
    // would admit a revoked agent (red team rt31: deleted under a running worker).
    this.#replaced =
      fileIdentity(this.#path) !== this.#identity || !this.#revocations.isTheFileOpened()
    if (this.#replaced) this.#publish({ type: 'lost', reason: REPLACED })
  }

  #flushInBackground(): void {
    this.#flushTimer = undefined
    if (this.#closed || this.#auditBuffer.length === 0) return
    try {
      this.#writeOnce('write the audit log', () => undefined)
    } catch {
      // Still buffered; retry shortly. flush(), readAudit() and close() surface the error.
      this.#flushTimer = setTimeout(() => this.#flushInBackground(), 20)
    }
  }

  /** Forgets finished holds and old events in small batches, inside a reserve of `handle`. */
  #prune(now: number, handle: string): void {
    if (now < this.#nextPrune) return
    const removed = this.#ledger.prune({
      now,
      handle,
      lapsedBefore: now - UNRECONCILED_RETENTION_MS,
      eventsBefore: now - EVENT_RETENTION_MS,
      auditBefore: now - this.#auditRetentionMs,
    })
    // A full batch means more wait: prune again at the next reserve; else in a while.
    this.#nextPrune = removed === PRUNE_BATCH ? now : now + PRUNE_EVERY_MS
  }

  #watch(handle: string): void {
    if (this.#watched.has(handle)) return
    this.#watched.set(handle, false)
    if (this.#watched.size > WATCHED_MAX) {
      this.#watched.delete(this.#watched.keys().next().value as string)
    }
  }

  #publish(event: StoreEvent): void {
    if (event.type === 'revoked') {
      // Once per agent: its mark and the ledger's event both say it (revocations are final).
      if (this.#heard.has(event.handle)) return
      this.#heard.add(event.handle)
      if (this.#watched.has(event.handle)) this.#watched.set(event.handle, true)
    }
    this.#listeners.publish(event)
  }

  /** Events were pruned unread: publishes the revocations of watched agents not yet heard. */
  #resync(): void {
    for (const [handle, heard] of this.#watched) {
      const revoked = heard ? undefined : this.#ledger.revocation(handle)
      if (revoked) this.#publish({ type: 'revoked', handle, ...revoked })
    }
  }

  #unavailable(operation: string, error: unknown): StoreUnavailableError {
    // Said already, with what to do (a newer schema, another ledger's revocations file).
    if (StoreUnavailableError.isInstance(error)) return error
    const detail = error instanceof Error ? error.message : String(error)
    return new StoreUnavailableError(
      `The sqlite store at ${this.#path} could not ${operation} (${detail})`,
      { cause: error },
    )
  }
}

/**
 * The ledger's revocations file, which must be this ledger's (sqlite-revocations.ts). A
 * ledger without an identity gets one under its write lock, so that processes opening the
 * same new ledger at once agree on it (the second waits, then finds it). An existing ledger
 * whose lock stays held a second (a frozen writer; `migrated` false: its identity's table
 * not made yet) opens its file as it is, its identity left to a later open: a revoke must
 * reach the file behind a frozen process (red team rt35: an upgrade refused to open).
 */
function openRevocations(
  db: DatabaseSync,
  Database: typeof DatabaseSync,
  path: string,
  migrated: boolean,
) {
  const read = () =>
    (db.prepare('SELECT id FROM ledger_identity').get() as { id: string } | undefined)?.id
  // With agents, it is a ledger from before identities: the file beside it is its own.
  const hasAgents = () => db.prepare('SELECT 1 FROM agents LIMIT 1').get() !== undefined
  // The revocations an earlier release alerted, marked in the ledger (a read: no lock).
  const alerted = () =>
    (
      db.prepare('SELECT handle FROM marks WHERE key = ?').all(REVOKED_ALERT_MARK) as {
        handle: string
      }[]
    ).map(({ handle }) => handle)
  const known = migrated ? read() : undefined
  if (known !== undefined) return new SqliteRevocations(Database, path, { id: known, alerted })
  // The file first, under no ledger lock (red team rt35: its waits, a second each, held every
  // ledger write of the machine): its stamp is the identity every open takes, the first
  // open's, which the others adopt. With agents, the ledger is from before identities and
  // may take the file's.
  const existing = hasAgents()
  const revocations = new SqliteRevocations(Database, path, {
    id: undefined,
    mayAdopt: existing,
    alerted,
  })
  // Then the ledger records it: at once for a new ledger, which waits its turn; an existing
  // one's lock held a second is a frozen writer's, and a later open records it.
  if (!migrated || !beginWithin(db, existing ? FROZEN_LOCK_WAIT_MS : Number.MAX_VALUE)) {
    return revocations
  }
  try {
    const id = read()
    if (id === undefined) {
      db.prepare('INSERT INTO ledger_identity (one, id) VALUES (1, ?)').run(revocations.ledgerId)
    }
    db.exec('COMMIT')
    if (id === undefined || id === revocations.ledgerId) return revocations
    // Recorded meanwhile as another (the file replaced under it?): judged by that identity.
    revocations.close()
    return new SqliteRevocations(Database, path, { id, alerted })
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK')
    revocations.close()
    throw error
  }
}

/** Another process holds the write lock: retried by #write. */
class BusyError extends Error {}

/**
 * A lock (the ledger's, or the revocations file's) stayed held past a bounded wait: a process
 * frozen inside a write. Still a StoreUnavailableError to the caller, told apart where a
 * revoke or a read has another way (each waits on one lock only).
 */
class LockHeld extends StoreUnavailableError {
  constructor(busy: StoreUnavailableError) {
    super(undefined, { cause: busy })
    this.message = busy.message
  }
}

const lockHeld = (busy: StoreUnavailableError) => new LockHeld(busy)

/** Creates the folder of a new database file, with a `.gitignore` that ignores it all. */
function ensureFolder(path: string): void {
  if (inMemoryPath(path)) return
  const folder = dirname(path)
  if (existsSync(folder)) return
  makeFolders(folder)
  writeFileSync(join(folder, '.gitignore'), '# Kill switch state: never commit it.\n*\n')
}

/**
 * Creates a folder and its missing parents, one at a time, each 0700. Not `mkdirSync`'s
 * `recursive`: where a file system answers ENOENT to creating a folder under one that exists
 * (`/proc`, `/sys`), Node retries the parent forever, a process spinning at 100% that
 * ignores SIGTERM; here that ENOENT is thrown, and the store refuses the path.
 */
function makeFolders(folder: string): void {
  const missing: string[] = []
  for (let dir = folder; !existsSync(dir); dir = dirname(dir)) {
    missing.push(dir)
    if (dirname(dir) === dir) break
  }
  for (const dir of missing.reverse()) mkdirSync(dir, { mode: 0o700 })
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
  } catch (error) {
    // An older Node (npm only warns about `engines`): say what to do, not "no such module".
    if ((error as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_BUILTIN_MODULE') throw error
    throw new Error(
      `node:sqlite is not built into Node ${process.versions.node}: the sqlite store needs Node 22.13 or later (the memory and Redis stores do not)`,
      { cause: error },
    )
  } finally {
    process.emitWarning = emitWarning
  }
}

export { createOwnerOnly } from './sqlite-files.js'
