// The default store: everything in this process's memory. Every operation completes in one
// synchronous step (no await inside), which is what makes the ledger's transitions atomic on
// Node's event loop. One process only, and forgotten on restart: use sqliteStore or
// redisStore to share state or to keep revocations across restarts.
import type { AuditEntry } from '../audit.js'
import { AgentExistsError, AgentNotFoundError, InvalidConfigError } from '../errors.js'
import * as approvalsLedger from '../ledger/approvals.js'
import * as budgetRecords from '../ledger/budget-records.js'
import * as ledger from '../ledger/ledger.js'
import { checkTime } from '../ledger/ledger-input.js'
import type { HoldRecord, LedgerStorage } from '../ledger/ledger-storage.js'
import type {
  ActivityEvent,
  AgentRecord,
  ApprovalRecord,
  BudgetRecord,
  NewAgentRecord,
  Store,
  UsageRecord,
} from '../store.js'
import { StoreListeners } from './store-listeners.js'

/** Options of the memory store. */
export interface MemoryStoreOptions {
  /**
   * Audit entries kept per agent; the oldest are dropped past it. Default 10,000. The memory
   * store's own bound on this process's heap (its whole state is gone at exit anyway); the
   * durable stores have no such count, only `auditRetentionMs`.
   */
  maxAuditEntriesPerAgent?: number
  /**
   * How long audit entries are kept, in ms of the store's clock; older ones are deleted in
   * small batches as reserves come (the sqlite and Redis stores' option, with the same
   * meaning). Default: kept for good.
   */
  auditRetentionMs?: number
}

interface AgentState {
  record: AgentRecord
  live: Map<string, HoldRecord>
  /** Earliest expiry among `live` (or earlier), so most operations skip the scan. */
  nextExpiry: number
  /**
   * Settled and released holds, for a repeated settle or release, in two generations: once
   * `finished` is full it becomes `older` (the previous older is dropped). Bounded, no copy.
   */
  finished: Map<string, HoldRecord>
  older: Map<string, HoldRecord>
  /** Lapsed holds (charged whole), kept apart for a late settle to correct: oldest go first. */
  lapsed: Map<string, HoldRecord>
  audit: AuditEntry[]
  /** The seq of the next audit entry. */
  auditSeq: number
  activity: ActivityEvent[]
  marks: Set<string>
}

/**
 * Settled and released holds kept per generation. In one process nothing settles a hold
 * twice but a caller's own mistake (the guard settles once, and this store never fails a
 * settle it applied), so a short memory will do: short enough that a hold record dies young
 * (kept for 10,000 calls, each was copied by two garbage collections: 9% of a guarded call).
 */
const FINISHED_HOLDS_KEPT = 512
/**
 * Lapsed holds (and settles at a bound) kept per agent for a late settle or a reconcile to
 * correct, kept apart from the finished holds a busy agent turns over in a second. Past this
 * count, or UNRECONCILED_RETENTION_MS, the oldest is written off (ledger.writeOff).
 */
const LAPSED_HOLDS_KEPT = 10_000
/** Lapsed holds written off per reserve at most: bounded work on the hot path. */
const WRITE_OFF_BATCH = 16
const AUDIT_TRIM_BATCH = 1_024
/** Audit entries pruned for age per pass, over every agent: small, like the sqlite store's. */
const AUDIT_PRUNE_BATCH = 256
/** Aged audit entries are looked for at most this often (sooner while a batch was full). */
const AUDIT_PRUNE_EVERY_MS = 1_000
const KEEP_FOREVER = Number.MAX_SAFE_INTEGER

/**
 * Flattens a string in place. A summary built by a template literal is, in V8, a tree of its
 * pieces: about 180 bytes more than its text. This store keeps 10,000 entries per agent, and
 * every byte kept is copied as it ages in the heap: two per guarded call, this was a third of
 * what a call left behind. Read as a number, a string is flattened and its pieces freed.
 */
function flatten(text: string): void {
  if (typeof text === 'string') Number(text)
}

function positiveInteger(
  options: MemoryStoreOptions,
  key: keyof MemoryStoreOptions,
  fallback: number,
): number {
  const value = options[key]
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidConfigError(
      key,
      `memoryStore option ${key} must be a positive integer (got ${String(value)}).`,
    )
  }
  return value
}

/**
 * Creates an in-memory store (the default when createKillSwitch gets no store).
 *
 * @example
 * const ks = createKillSwitch({ store: memoryStore() })
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const maxAudit = positiveInteger(options, 'maxAuditEntriesPerAgent', 10_000)
  const auditRetentionMs = positiveInteger(options, 'auditRetentionMs', KEEP_FOREVER)
  let nextAuditPrune = 0
  const agents = new Map<string, AgentState>()
  const byCredential = new Map<string, AgentState>()
  const listeners = new StoreListeners()
  const budgets = new Map<string, BudgetRecord>()
  const usage = new Map<string, UsageRecord>()
  const approvals = new Map<string, ApprovalRecord>()
  const pendingByAgent = new Map<string, string>()

  const append = (state: AgentState, entry: AuditEntry) => {
    // Kept as given, no copy: its seq is its place in the log (auditSeq - length + index).
    flatten(entry.summary)
    state.audit.push(entry)
    state.auditSeq++
    // Trim in batches: dropping the oldest entry on every append would shift the whole
    // array each time (O(n) per call once full).
    if (state.audit.length > maxAudit + AUDIT_TRIM_BATCH)
      state.audit.splice(0, state.audit.length - maxAudit)
  }

  /**
   * Deletes at most AUDIT_PRUNE_BATCH entries older than `now - auditRetentionMs`, oldest
   * first in each agent's log, agent after agent: bounded work per reserve.
   */
  const pruneAudit = (now: number) => {
    if (auditRetentionMs === KEEP_FOREVER || now < nextAuditPrune) return
    const before = now - auditRetentionMs
    let budget = AUDIT_PRUNE_BATCH
    for (const state of agents.values()) {
      const log = state.audit
      let aged = 0
      while (aged < budget && aged < log.length && (log[aged] as AuditEntry).at < before) aged++
      if (aged > 0) log.splice(0, aged)
      budget -= aged
      if (budget === 0) break
    }
    // A full batch means more may wait: look again at the next reserve; else in a while.
    nextAuditPrune = budget === 0 ? now : now + AUDIT_PRUNE_EVERY_MS
  }

  /**
   * Forgets the agent's oldest lapsed holds past UNRECONCILED_RETENTION_MS or past
   * LAPSED_HOLDS_KEPT, each written off (its charge final), a few per reserve. Insertion
   * order is the order they lapsed in.
   */
  const writeOffForgotten = (handle: string, now: number) => {
    const state = agents.get(handle)
    if (state === undefined || state.lapsed.size === 0) return
    const before = now - ledger.UNRECONCILED_RETENTION_MS
    for (let n = 0; n < WRITE_OFF_BATCH; n++) {
      const oldest = state.lapsed.values().next().value
      if (oldest === undefined) return
      if (state.lapsed.size <= LAPSED_HOLDS_KEPT && oldest.updatedAt >= before) return
      state.lapsed.delete(oldest.id)
      ledger.writeOff(storage, handle, oldest, now)
    }
  }

  const storage: LedgerStorage = {
    // Records are frozen, not copied: the ledger makes a new record for every change and
    // never writes one it read, so a stored record can be handed out as it is.
    agent: (handle) => agents.get(handle)?.record,
    saveAgent: (record) => {
      const state = agents.get(record.handle)
      if (state) state.record = Object.freeze(record)
    },
    hold: (handle, holdId) => {
      const state = agents.get(handle)
      if (!state) return undefined
      return (
        state.live.get(holdId) ??
        state.finished.get(holdId) ??
        state.older.get(holdId) ??
        state.lapsed.get(holdId)
      )
    },
    saveHold: (handle, hold) => {
      const state = agents.get(handle)
      if (!state) return
      // The ledger never saves an ended hold as held again (a reserve of an ended id is
      // refused): a held record is new or renewed, and lives in `live` only.
      if (hold.state === 'held') {
        state.live.set(hold.id, hold)
        if (hold.expiresAt < state.nextExpiry) state.nextExpiry = hold.expiresAt
        return
      }
      // Ended now: it was live, or it ended before (a lapse settled late).
      if (!state.live.delete(hold.id) && !state.lapsed.delete(hold.id)) {
        state.finished.delete(hold.id)
        state.older.delete(hold.id)
      }
      // Past LAPSED_HOLDS_KEPT, the reserve's writeOffForgotten forgets the oldest.
      if (hold.state === 'lapsed') {
        state.lapsed.set(hold.id, hold)
        return
      }
      state.finished.set(hold.id, hold)
      if (state.finished.size >= FINISHED_HOLDS_KEPT) {
        state.older = state.finished
        state.finished = new Map()
      }
    },
    dueHolds: (handle, now) => {
      const state = agents.get(handle)
      if (!state || now < state.nextExpiry) return []
      const due: HoldRecord[] = []
      let next = Number.POSITIVE_INFINITY
      for (const hold of state.live.values()) {
        if (hold.expiresAt <= now) due.push(hold)
        else if (hold.expiresAt < next) next = hold.expiresAt
      }
      state.nextExpiry = next
      return due.sort(
        (a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      )
    },
    appendAudit: (entry) => {
      const state = agents.get(entry.handle)
      if (state) append(state, entry)
    },
    budget: (id) => {
      const record = budgets.get(id)
      return record && { ...record }
    },
    saveBudget: (record) => {
      budgets.set(record.id, { ...record })
    },
    usage: (key) => usage.get(key) ?? { spentMicros: 0, heldMicros: 0 },
    saveUsage: (key, value) => {
      usage.set(key, { ...value })
    },
    approval: (id) => {
      const record = approvals.get(id)
      return record && { ...record }
    },
    saveApproval: (record) => {
      approvals.set(record.id, { ...record })
      if (record.status === 'pending') pendingByAgent.set(record.handle, record.id)
      else if (pendingByAgent.get(record.handle) === record.id) pendingByAgent.delete(record.handle)
    },
    pendingApproval: (handle) => {
      const id = pendingByAgent.get(handle)
      return id === undefined ? undefined : storage.approval(id)
    },
  }

  const existing = (handle: string): AgentState => {
    const state = agents.get(handle)
    if (!state) throw new AgentNotFoundError(handle)
    return state
  }

  // Reads check their clock (checkTime) as writes do: NaN must not read as "nothing lapsed".
  const view = (handle: string, now: number) => ledger.sweep(storage, handle, now)

  /**
   * Appends to the agent's window; answers where the window now lies in `state.activity`.
   * The array is only ever appended to: past twice the window it is replaced by a copy of
   * its last `keep` events (amortised O(1) a push), so an array handed out earlier keeps
   * what it held, and `[start..end)` of it stays the window as it stood then.
   */
  const appendActivity = (state: AgentState, events: readonly ActivityEvent[], keep: number) => {
    let log = state.activity
    if (log.length + events.length > keep * 2) {
      log = log.slice(Math.max(0, log.length - keep))
      state.activity = log
    }
    for (const event of events) log.push(event)
    return { log, start: Math.max(0, log.length - keep), end: log.length }
  }

  const store: Store = {
    kind: 'memory',

    async createAgent(record: NewAgentRecord) {
      ledger.checkNewAgent(record)
      const existing = agents.get(record.handle)
      if (existing && ledger.sameCreation(existing.record, record)) return { ...existing.record }
      if (existing) throw new AgentExistsError(record.handle)
      const state: AgentState = {
        record: Object.freeze({
          ...record,
          limits: record.limits ?? [],
          budgets: record.budgets ?? [],
          grants: [],
          status: 'active' as const,
          spentMicros: 0,
          heldMicros: 0,
          unreconciledMicros: 0,
        }),
        live: new Map(),
        nextExpiry: Number.POSITIVE_INFINITY,
        finished: new Map(),
        older: new Map(),
        lapsed: new Map(),
        audit: [],
        auditSeq: 1,
        activity: [],
        marks: new Set(),
      }
      agents.set(record.handle, state)
      byCredential.set(record.credentialHash, state)
      return { ...state.record }
    },

    async getAgent(handle, now) {
      return view(handle, checkTime('now', now))
    },

    async findAgentByCredentialHash(credentialHash, now) {
      checkTime('now', now)
      const state = byCredential.get(credentialHash)
      return state && view(state.record.handle, now)
    },

    async listAgents(now) {
      checkTime('now', now)
      return [...agents.keys()].map((handle) => view(handle, now) as AgentRecord)
    },

    async updateAgent(handle, patch, now, audit) {
      const agent = ledger.updateAgent(storage, handle, patch, now, audit)
      listeners.publish({ type: 'updated', handle })
      return agent
    },

    async revokeAgent(handle, reason, now, audit) {
      const result = ledger.revoke(storage, handle, reason, now, audit)
      if (!result.alreadyRevoked) listeners.publish({ type: 'revoked', handle, reason, at: now })
      return result
    },

    // Answered at once (a value, not a promise): the guard's hot path then needs no promise
    // (awaitable.ts). A failure is still a rejected promise, as from any store.
    reserve: (request) =>
      answer(() => {
        const result = ledger.reserve(storage, request)
        // After the transition (which validated request.now), as the sqlite store does it.
        pruneAudit(request.now)
        writeOffForgotten(request.handle, request.now)
        // In the same synchronous step: the window is recorded only for a granted hold.
        if (result.ok && request.activity) {
          const { events, keep } = request.activity
          const { log, start, end } = appendActivity(existing(request.handle), events, keep)
          result.activity = log
          result.activityStart = start
          result.activityEnd = end
        }
        return result
      }),

    async renew(request) {
      return ledger.renew(storage, request)
    },

    settle: (request) => answer(() => ledger.settle(storage, request)),

    release: (request) => answer(() => ledger.release(storage, request)),

    appendAudit(entry) {
      storage.appendAudit(entry)
    },

    async readAudit(handle, options = {}) {
      const state = agents.get(handle)
      if (!state) return []
      const entries = state.audit
      const limit = Math.min(options.limit ?? maxAudit, maxAudit)
      if (limit <= 0) return []
      // Seqs are consecutive along the log: the first entry's is the next seq less its length.
      const first = state.auditSeq - entries.length
      const before = options.before
      const end =
        before === undefined
          ? entries.length
          : Math.max(0, Math.min(entries.length, Math.ceil(before - first)))
      const start = Math.max(0, end - limit)
      return entries.slice(start, end).map((entry, i) => ({ ...entry, seq: first + start + i }))
    },

    async recordActivity(handle, events, keep) {
      const batch: readonly ActivityEvent[] = Array.isArray(events) ? events : [events]
      const state = agents.get(handle)
      if (!state) return [...batch]
      // A copy here: the window's reader may keep it (the reserve's answer gives bounds).
      const { log, start } = appendActivity(state, batch, keep)
      return log.slice(start)
    },

    async markOnce(handle, key) {
      const state = existing(handle)
      if (state.marks.has(key)) return false
      state.marks.add(key)
      return true
    },

    subscribe(listener) {
      return listeners.add(listener)
    },

    async createBudget(record) {
      return budgetRecords.createBudget(storage, record)
    },

    async getBudget(id) {
      return storage.budget(id)
    },

    async listBudgets() {
      return [...budgets.values()].map((record) => ({ ...record }))
    },

    async updateBudget(id, patch, now) {
      return budgetRecords.updateBudget(storage, id, patch, now)
    },

    async readUsage(keys) {
      return keys.map((key) => ({ ...storage.usage(key) }))
    },

    async leaveApproval(request) {
      approvalsLedger.leaveApproval(storage, request)
    },

    async openApproval(request) {
      return approvalsLedger.openApproval(storage, request)
    },

    async decideApproval(request) {
      const decided = approvalsLedger.decideApproval(storage, request)
      listeners.publish({ type: 'updated', handle: decided.handle })
      return decided
    },

    async getApproval(id, now) {
      const record = storage.approval(id)
      return record && approvalsLedger.approvalAt(record, now)
    },

    async listApprovals(now, filter = {}) {
      return [...approvals.values()]
        .map((record) => approvalsLedger.approvalAt(record, now))
        .filter((record) => filter.status === undefined || record.status === filter.status)
    },

    async flush() {},

    async close() {
      listeners.clear()
    },
  }
  return store
}

/** `f()` as a value, or its error as a rejected promise (as every store fails). */
function answer<T>(f: () => T): T | Promise<T> {
  try {
    return f()
  } catch (error) {
    return Promise.reject(error)
  }
}
