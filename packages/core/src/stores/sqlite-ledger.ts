// The sqlite store's storage for the ledger (ledger/ledger.ts) and its other tables. Every
// method here runs INSIDE one write transaction opened by the store (or is a single read
// statement), so each transition is atomic across processes: nobody else can write between
// its reads and its writes.

import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { AuditEntry } from '../audit.js'
import { AgentExistsError, AgentNotFoundError } from '../errors.js'
import * as approvalsLedger from '../ledger/approvals.js'
import * as budgetRecords from '../ledger/budget-records.js'
import * as ledger from '../ledger/ledger.js'
import { checkTime } from '../ledger/ledger-input.js'
import {
  type HoldRecord,
  type HoldState,
  type LedgerStorage,
  viewOf,
} from '../ledger/ledger-storage.js'
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
  UsageRecord,
} from '../store.js'
import {
  type AgentRow,
  type AuditRow,
  auditParams,
  type BudgetRow,
  ParsedAgentColumns,
  SELECT_AGENT,
  toActivityEvent,
  toAgentRecord,
  toAuditEntry,
  toBudgetRecord,
} from './sqlite-rows.js'
import { ENDED_GENERATION_MS } from './sqlite-schema.js'

interface HoldRowColumns {
  hold_id: string
  amount_micros: number
  expires_at: number
  state: HoldState
  charged_micros: number
  updated_at: number
  levels: string
  /** Selected by the due-holds query only: what a lapse names. */
  label?: string
}

/** Where a hold's row was found: which table, and for an ended hold its generation. */
interface HoldRow extends HoldRowColumns {
  place: 'live' | 'ended' | 'lapsed'
  gen: number
}

const toHold = (row: HoldRowColumns): HoldRecord => ({
  id: row.hold_id,
  amountMicros: row.amount_micros,
  expiresAt: row.expires_at,
  state: row.state,
  chargedMicros: row.charged_micros,
  updatedAt: row.updated_at,
  levels: row.levels === '[]' ? [] : (JSON.parse(row.levels) as string[]),
  ...(row.label ? { label: row.label } : {}),
})

/** `next_expiry` of an agent with no live hold. */
const NO_EXPIRY = Number.MAX_SAFE_INTEGER

/**
 * The agent row read by the current transaction: what its JSON columns and its expiry bound
 * hold now, so that writes can skip what did not change. Every transition reads the agent
 * first; the store forgets this at the start of each transaction.
 */
interface CurrentAgent {
  handle: string
  nextExpiry: number
  /** The record whose policy, limits, budgets and grants objects match the stored JSON. */
  record: AgentRecord
}

/** The generation of ended holds a hold ending at `at` is kept in (sqlite-schema.ts). */
const endedGeneration = (at: number): number => Math.floor(at / ENDED_GENERATION_MS)

/**
 * The hold lookup: the live table, then each generation of ended holds that may still hold
 * it (one key seek each: the generation leads their key), then the lapsed table. A few
 * generations are one branch each (1.3 µs for three, measured); more are one `IN` list,
 * whose fixed cost (an ephemeral index, ~1.4 µs) is then the smaller.
 */
function holdLookup(generations: number): string {
  const gen = (i: number) => (i === 0 ? '?3' : `?3 + ${i}`)
  const ended = (where: string) => `
    SELECT 'ended', gen, hold_id, amount_micros, expires_at, state, charged_micros, updated_at,
      '[]' FROM ended_holds WHERE ${where} AND handle = ?1 AND hold_id = ?2
    UNION ALL`
  const branches =
    generations <= 4
      ? Array.from({ length: generations }, (_, i) => ended(`gen = ${gen(i)}`)).join('')
      : ended(`gen IN (${Array.from({ length: generations }, (_, i) => gen(i)).join(', ')})`)
  return `SELECT 'live' AS place, 0 AS gen, hold_id, amount_micros, expires_at, 'held' AS state,
      0 AS charged_micros, updated_at, levels FROM live_holds WHERE handle = ?1 AND hold_id = ?2
    UNION ALL${branches}
    SELECT 'lapsed', 0, hold_id, amount_micros, expires_at, state, charged_micros, updated_at,
      levels FROM lapsed_holds WHERE handle = ?1 AND hold_id = ?2
    LIMIT 1`
}

/** Finished holds deleted per prune: small batches, so no write lock is held for long. */
export const PRUNE_BATCH = 256

/**
 * The newest events are kept whatever their age: an old event is pruned only when this many
 * newer ones follow it. Age alone is judged by the pruning process's clock, and a peer whose
 * clock runs ahead (or any peer, while this process is frozen or asleep) would delete a
 * revocation before this process's poller read it (red team rt30 F3). About 100 bytes each.
 */
export const EVENTS_KEPT = 10_000

/** Agents whose activity window this process mirrors (least recently used dropped first). */
const WINDOWS_KEPT = 10_000

/**
 * A process trims an agent's activity rows once per this many of its own writes, not at
 * each: the trim walks `keep` index entries and rewrites the table's oldest pages. Reads take
 * the last `keep` rows, so the few extra rows (at most this many per process) change
 * nothing but the file's size.
 */
const ACTIVITY_TRIM_EVERY = 64

/** This process's copy of an agent's activity window. */
interface WindowMirror {
  /** The last activity seq read. */
  seq: number
  events: ActivityEvent[]
  /** Rows this process wrote since it last trimmed the agent's rows. */
  untrimmed: number
}

export class SqliteLedger implements LedgerStorage {
  readonly #origin: string
  /** Each agent's activity window as this process last read it, and the last seq read. */
  readonly #windows = new Map<string, WindowMirror>()
  readonly #sql: Record<keyof typeof SQL, StatementSync>
  #current: CurrentAgent | undefined
  readonly #columns = new ParsedAgentColumns()
  /** How long ended holds are remembered (at least; see ENDED_GENERATION_MS). */
  readonly #holdRetentionMs: number
  /** The generations of ended holds a lookup seeks: those the retention may still keep. */
  readonly #holdLookup: StatementSync
  /** The clock of the transition in progress (the hold lookup's generations follow it). */
  #now = 0
  /** Where the transition in progress found its hold, so its save deletes only that row. */
  #seen: { handle: string; id: string; place: HoldRow['place'] | 'none'; gen: number } | undefined

  /**
   * `origin` tags the events this process writes, so its own poller skips them;
   * `holdRetentionMs` is how long a settled or released hold is remembered.
   */
  constructor(db: DatabaseSync, origin: string, holdRetentionMs: number) {
    this.#origin = origin
    this.#holdRetentionMs = holdRetentionMs
    this.#sql = Object.fromEntries(
      Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]),
    ) as Record<keyof typeof SQL, StatementSync>
    // From the oldest generation pruning keeps to the one after now (a clock that stepped
    // back): ceil(retention / generation) + 2 generations at most.
    this.#holdLookup = db.prepare(holdLookup(Math.ceil(holdRetentionMs / ENDED_GENERATION_MS) + 2))
  }

  /** Called by the store after BEGIN: what an earlier transaction read may be stale. */
  beginTransaction(): void {
    this.#current = undefined
    this.#seen = undefined
  }

  /** The oldest generation of ended holds kept at `now`; older ones may be pruned. */
  #oldestGeneration(now: number): number {
    return endedGeneration(now - this.#holdRetentionMs)
  }

  // LedgerStorage: what the transitions read and write.

  agent(handle: string): AgentRecord | undefined {
    const row = this.#sql.agent.get(handle) as AgentRow | undefined
    if (!row) {
      this.#current = undefined
      return undefined
    }
    const record = toAgentRecord(row, this.#columns)
    this.#current = { handle, nextExpiry: row.next_expiry, record }
    return record
  }

  saveAgent(record: AgentRecord): void {
    const current = this.#current?.handle === record.handle ? this.#current : undefined
    const read = current?.record
    // The transitions copy the record and replace only what they change: when its JSON
    // fields are the very objects read in this transaction, they are unchanged, and only
    // the scalar columns are written (no four JSON.stringify, a smaller statement).
    if (
      read !== undefined &&
      record.policy === read.policy &&
      record.limits === read.limits &&
      record.budgets === read.budgets &&
      record.grants === read.grants
    ) {
      this.#sql.saveScalars.run(
        record.status,
        record.capMicros,
        record.spentMicros,
        record.heldMicros,
        record.unreconciledMicros,
        record.updatedAt,
        record.revokedAt ?? null,
        record.revokedReason ?? null,
        record.handle,
      )
      return
    }
    if (current) current.record = record
    this.#sql.saveAgent.run({
      handle: record.handle,
      status: record.status,
      cap_micros: record.capMicros,
      spent_micros: record.spentMicros,
      held_micros: record.heldMicros,
      unreconciled_micros: record.unreconciledMicros,
      updated_at: record.updatedAt,
      revoked_at: record.revokedAt ?? null,
      revoked_reason: record.revokedReason ?? null,
      policy: JSON.stringify(record.policy),
      limits: JSON.stringify(record.limits),
      budgets: JSON.stringify(record.budgets),
      grants: JSON.stringify(record.grants),
    })
  }

  approval(id: string): ApprovalRecord | undefined {
    const row = this.#sql.approval.get(id) as { record: string } | undefined
    return row && (JSON.parse(row.record) as ApprovalRecord)
  }

  saveApproval(record: ApprovalRecord): void {
    this.#sql.saveApproval.run({
      id: record.id,
      handle: record.handle,
      status: record.status,
      record: JSON.stringify(record),
      created_at: record.createdAt,
    })
  }

  pendingApproval(handle: string): ApprovalRecord | undefined {
    const row = this.#sql.pendingApproval.get(handle) as { record: string } | undefined
    return row && (JSON.parse(row.record) as ApprovalRecord)
  }

  listApprovals(status?: ApprovalRecord['status']): ApprovalRecord[] {
    const rows = this.#sql.approvals.all() as { record: string }[]
    return rows
      .map((row) => JSON.parse(row.record) as ApprovalRecord)
      .filter((record) => status === undefined || record.status === status)
  }

  openApproval(request: OpenApprovalRequest): { approval: ApprovalRecord; created: boolean } {
    return approvalsLedger.openApproval(this, request)
  }

  leaveApproval(request: LeaveApprovalRequest): void {
    approvalsLedger.leaveApproval(this, request)
  }

  decideApproval(request: DecideApprovalRequest): ApprovalRecord {
    const decided = approvalsLedger.decideApproval(this, request)
    this.#sql.insertEvent.run(this.#origin, 'updated', decided.handle, null, request.now)
    return decided
  }

  budget(id: string): BudgetRecord | undefined {
    const row = this.#sql.budget.get(id) as BudgetRow | undefined
    return row && toBudgetRecord(row)
  }

  saveBudget(record: BudgetRecord): void {
    this.#sql.saveBudget.run({
      id: record.id,
      limits: JSON.stringify(record.limits),
      time_zone: record.timeZone ?? null,
      parent_id: record.parentId ?? null,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    })
  }

  usage(key: string): UsageRecord {
    const row = this.#sql.usage.get(key) as
      | { spent_micros: number; held_micros: number }
      | undefined
    return { spentMicros: row?.spent_micros ?? 0, heldMicros: row?.held_micros ?? 0 }
  }

  saveUsage(key: string, usage: UsageRecord): void {
    this.#sql.saveUsage.run(key, usage.spentMicros, usage.heldMicros)
  }

  listBudgets(): BudgetRecord[] {
    return (this.#sql.budgets.all() as unknown as BudgetRow[]).map(toBudgetRecord)
  }

  createBudget(record: BudgetRecord): BudgetRecord {
    return budgetRecords.createBudget(this, record)
  }

  updateBudget(
    id: string,
    patch: { limits?: LimitRecord[]; timeZone?: string },
    now: number,
  ): BudgetRecord {
    return budgetRecords.updateBudget(this, id, patch, now)
  }

  hold(handle: string, holdId: string): HoldRecord | undefined {
    const gen = this.#oldestGeneration(this.#now)
    const row = this.#holdLookup.get(handle, holdId, gen) as HoldRow | undefined
    this.#seen = { handle, id: holdId, place: row?.place ?? 'none', gen: row?.gen ?? 0 }
    return row && toHold(row)
  }

  saveHold(handle: string, hold: HoldRecord): void {
    // A settled or released hold is kept only so that a repeated settle or release is a
    // no-op: no transition reads its window keys again (ledger.ts), so its row stays
    // compact. A lapsed one keeps them: its late settlement corrects those windows too.
    const keepLevels = hold.state === 'held' || hold.state === 'lapsed' || hold.levels.length > 0
    const levels = keepLevels && hold.levels.length > 0 ? JSON.stringify(hold.levels) : '[]'
    if (hold.state !== 'held') {
      this.#endHold(handle, hold, levels)
      return
    }
    this.#sql.saveLiveHold.run(
      handle,
      hold.id,
      hold.amountMicros,
      hold.expiresAt,
      hold.updatedAt,
      levels,
      hold.label ?? '',
    )
    if (this.#seen?.handle === handle && this.#seen.id === hold.id) this.#seen.place = 'live'
    // Keep the agent's expiry bound at or before this hold's expiry (a reserve's new hold;
    // a renewal only moves an expiry later, so it never needs to).
    const current = this.#current?.handle === handle ? this.#current : undefined
    if (current && hold.expiresAt >= current.nextExpiry) return
    this.#sql.lowerExpiry.run(hold.expiresAt, handle, hold.expiresAt)
    if (current) current.nextExpiry = hold.expiresAt
  }

  /**
   * A hold that ended (or ended again: a late settle of a released or lapsed one) moves to
   * the table of its new state, out of the one the transition found it in: one row, one
   * place. A hold not looked up in this transaction is a live one lapsing (the transitions
   * look a hold up before they end it otherwise): its live row is cleared.
   */
  #endHold(handle: string, hold: HoldRecord, levels: string): void {
    const seen = this.#seen?.handle === handle && this.#seen.id === hold.id ? this.#seen : undefined
    const place = seen?.place ?? 'anywhere'
    const gen = endedGeneration(hold.updatedAt)
    if (place === 'live' || place === 'anywhere') this.#sql.endLiveHold.run(handle, hold.id)
    // A lapse's correction keeps its window keys (a later settle may raise it): it stays in
    // the lapsed holds' table, which keeps them, as settled.
    const keyed = hold.state === 'lapsed' || (hold.state === 'settled' && levels !== '[]')
    if ((place === 'lapsed' || place === 'anywhere') && !keyed) {
      this.#sql.endLapsedHold.run(handle, hold.id)
    }
    // Not looked up here, it is live (a lapse): no ended row to clear.
    if (seen?.place === 'ended' && seen.gen !== gen) {
      this.#sql.endEndedHold.run(seen.gen, handle, hold.id)
    }
    if (keyed) {
      this.#sql.saveLapsedHold.run(
        handle,
        hold.id,
        hold.amountMicros,
        hold.expiresAt,
        hold.state,
        hold.chargedMicros,
        hold.updatedAt,
        levels,
      )
    } else {
      this.#sql.saveEndedHold.run(
        gen,
        handle,
        hold.id,
        hold.amountMicros,
        hold.expiresAt,
        hold.state,
        hold.chargedMicros,
        hold.updatedAt,
      )
    }
    if (seen) {
      seen.place = hold.state === 'lapsed' ? 'lapsed' : 'ended'
      seen.gen = gen
    }
  }

  dueHolds(handle: string, now: number): HoldRecord[] {
    const current = this.#current?.handle === handle ? this.#current : undefined
    const bound =
      current?.nextExpiry ??
      (this.#sql.expiryBound.get(handle) as { next_expiry: number } | undefined)?.next_expiry ??
      NO_EXPIRY
    // Nothing can be due before the bound: no lookup at all (the common case).
    if (now < bound) return []
    const due = (this.#sql.dueHolds.all(handle, now) as unknown as HoldRow[]).map(toHold)
    // The caller lapses every due hold: the bound becomes the earliest of the others.
    const next =
      (this.#sql.nextExpiry.get(handle, now) as { next: number | null } | undefined)?.next ??
      NO_EXPIRY
    this.#sql.setExpiry.run(next, handle)
    if (current) current.nextExpiry = next
    return due
  }

  appendAudit(entry: AuditEntry): void {
    this.#sql.insertAudit.run(auditParams(entry))
  }

  // The store's operations.

  createAgent(record: NewAgentRecord): AgentRecord {
    ledger.checkNewAgent(record)
    if (this.#sql.exists.get(record.handle)) {
      const existing = this.agent(record.handle)
      if (existing && ledger.sameCreation(existing, record)) return existing
      throw new AgentExistsError(record.handle)
    }
    this.#sql.insertAgent.run({
      next_expiry: NO_EXPIRY,
      handle: record.handle,
      credential_hash: record.credentialHash,
      cap_micros: record.capMicros,
      currency: record.currency,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      revoked_at: record.revokedAt ?? null,
      revoked_reason: record.revokedReason ?? null,
      policy: JSON.stringify(record.policy),
      limits: JSON.stringify(record.limits ?? []),
      budgets: JSON.stringify(record.budgets ?? []),
      grants: '[]',
    })
    return this.agent(record.handle) as AgentRecord
  }

  /**
   * A read: the agent as stored, and whether the sweep has work (a write): holds due to
   * lapse, or grants expired (dropped and audited, as every store's reads do).
   */
  peek(handle: string, now: number): { agent: AgentRecord | undefined; due: boolean } {
    checkTime('now', now)
    const agent = this.agent(handle)
    // The bound may be early (a renewed or ended hold): then the write finds nothing due
    // and tightens it. It is never late.
    const due =
      agent !== undefined &&
      ((this.#current?.nextExpiry ?? 0) <= now || ledger.hasExpiredGrant(agent.grants, now))
    return { agent, due }
  }

  handleOf(credentialHash: string): string | undefined {
    return (this.#sql.handleByHash.get(credentialHash) as { handle: string } | undefined)?.handle
  }

  /** Every agent (one query), and whether any of them has holds due or grants expired. */
  listAgents(now: number): { agents: AgentRecord[]; due: boolean } {
    checkTime('now', now)
    const agents = (this.#sql.agents.all() as unknown as AgentRow[]).map((row) =>
      toAgentRecord(row, this.#columns),
    )
    const due =
      this.#sql.anyDueAtAll.get(now) !== undefined ||
      agents.some((agent) => ledger.hasExpiredGrant(agent.grants, now))
    return { agents, due }
  }

  /** Charges every agent's lapsed holds and drops its expired grants (a write). */
  sweepAll(now: number): void {
    const handles = new Set(
      (this.#sql.dueHandles.all(now) as { handle: string }[]).map((row) => row.handle),
    )
    for (const row of this.#sql.grantHandles.all() as { handle: string; grants: string }[]) {
      const grants = JSON.parse(row.grants) as { expiresAt: number }[]
      if (ledger.hasExpiredGrant(grants, now)) handles.add(row.handle)
    }
    for (const handle of handles) ledger.sweep(this, handle, now)
  }

  sweep(handle: string, now: number): AgentRecord | undefined {
    return ledger.sweep(this, handle, now)
  }

  /** The agent as `sweep` would leave it, written nowhere (a read, behind a held lock). */
  swept(handle: string, now: number): AgentRecord | undefined {
    const due = (of: string, at: number) =>
      (this.#sql.dueHolds.all(of, at) as unknown as HoldRow[]).map(toHold)
    return ledger.sweep(viewOf(this, due), handle, now)
  }

  updateAgent(handle: string, patch: AgentPatch, now: number, audit?: AuditEntry): AgentRecord {
    const agent = ledger.updateAgent(this, handle, patch, now, audit)
    this.#sql.insertEvent.run(this.#origin, 'updated', handle, null, now)
    return agent
  }

  revokeAgent(
    handle: string,
    reason: string,
    now: number,
    audit?: AuditEntry,
  ): { agent: AgentRecord; alreadyRevoked: boolean } {
    const result = ledger.revoke(this, handle, reason, now, audit)
    if (!result.alreadyRevoked)
      this.#sql.insertEvent.run(this.#origin, 'revoked', handle, reason, now)
    return result
  }

  reserve(request: ReserveRequest): ReserveResult {
    this.#now = request.now
    const result = ledger.reserve(this, request)
    // In the same transaction: the window is recorded only for a granted hold.
    if (result.ok && request.activity) {
      result.activity = this.#appendActivity(
        request.handle,
        request.activity.events,
        request.activity.keep,
      )
    }
    return result
  }

  renew(request: RenewRequest): RenewResult {
    this.#now = request.now
    return ledger.renew(this, request)
  }

  settle(request: SettleRequest): SettleResult {
    this.#now = request.now
    return ledger.settle(this, request)
  }

  release(request: ReleaseRequest): ReleaseResult {
    this.#now = request.now
    return ledger.release(this, request)
  }

  insertAudit(entries: readonly AuditEntry[]): void {
    for (const entry of entries) this.appendAudit(entry)
  }

  /** Oldest first; the most recent `limit` entries with a seq below `before`. */
  readAudit(handle: string, page: AuditPage = {}): AuditEntry[] {
    const rows = this.#sql.auditPage.all({
      handle,
      before: page.before ?? Number.MAX_SAFE_INTEGER,
      limit: page.limit === undefined ? -1 : Math.max(0, Math.floor(page.limit)),
    })
    return (rows as unknown as AuditRow[]).map(toAuditEntry)
  }

  recordActivity(handle: string, events: readonly ActivityEvent[], keep: number): ActivityEvent[] {
    // An unknown agent has no window to keep (as in the memory store).
    if (!this.#sql.exists.get(handle)) return [...events]
    return this.#appendActivity(handle, events, keep)
  }

  /** Appends to a known agent's window and answers the window (its last `keep` events). */
  #appendActivity(handle: string, events: readonly ActivityEvent[], keep: number): ActivityEvent[] {
    const size = Math.max(1, Math.floor(keep))
    const mirror = this.#windows.get(handle)
    // Under the write lock: no other writer can take the seqs after the agent's last.
    const before =
      (this.#sql.lastActivity.get(handle) as { seq: number | null } | undefined)?.seq ?? 0
    let next = before
    const written = events.map((event) => JSON.stringify(event))
    for (const text of written) this.#sql.insertActivity.run(handle, ++next, text)
    // A process new to the agent trims first: the rows left by earlier ones are bounded too.
    const untrimmed = mirror === undefined ? ACTIVITY_TRIM_EVERY : mirror.untrimmed + events.length
    if (untrimmed >= ACTIVITY_TRIM_EVERY) this.#sql.trimActivity.run({ handle, keep: size })
    let fresh: ActivityEvent[]
    if (mirror !== undefined && mirror.seq === before) {
      // Nobody else wrote since this process last read: the new rows are the ones it just
      // wrote, read back as any process would (parsed from their JSON), without a query.
      fresh = written.map((text) => toActivityEvent({ event: text }))
    } else {
      // Only the rows written since this process last read the window are read and parsed
      // (seq follows commit order: the write lock is held), not the whole window each call.
      const rows = this.#sql.activitySince.all(handle, mirror?.seq ?? 0) as { event: string }[]
      fresh = (rows.length >= size ? rows.slice(-size) : rows).map(toActivityEvent)
    }
    const window = [...(mirror?.events ?? []), ...fresh].slice(-size)
    this.#windows.delete(handle)
    if (this.#windows.size >= WINDOWS_KEPT)
      this.#windows.delete(this.#windows.keys().next().value as string)
    this.#windows.set(handle, {
      seq: next,
      events: window,
      untrimmed: untrimmed >= ACTIVITY_TRIM_EVERY ? 0 : untrimmed,
    })
    return window
  }

  markOnce(handle: string, key: string): boolean {
    if (!this.#sql.exists.get(handle)) throw new AgentNotFoundError(handle)
    return Number(this.#sql.mark.run(handle, key).changes) === 1
  }

  /**
   * Forgets at most PRUNE_BATCH settled or released holds of the generations the retention
   * no longer keeps at `now`, as many of `handle`'s lapsed ones that lapsed before
   * `lapsedBefore` (a late settle may still correct them until then; each is written off as
   * it is forgotten, by its own agent's reserve as on the other stores: red team rt39, another
   * agent's reserve wrote one off and its late settle was charged on top), as many
   * corrections kept with their window keys, as many audit entries older than
   * `auditBefore`, and as many events older than `eventsBefore` that EVENTS_KEPT newer ones
   * follow. Returns the most rows one kind lost, so the store knows whether more wait.
   */
  prune(cutoffs: {
    now: number
    handle: string
    lapsedBefore: number
    eventsBefore: number
    auditBefore: number
  }): number {
    const ended = Number(
      this.#sql.pruneEnded.run({ gen: this.#oldestGeneration(cutoffs.now), batch: PRUNE_BATCH })
        .changes,
    )
    // Each lapsed hold forgotten is written off (its charge final) in this transaction.
    const forgotten = this.#sql.staleLapsed.all({
      handle: cutoffs.handle,
      before: cutoffs.lapsedBefore,
      batch: PRUNE_BATCH,
    }) as unknown as HoldRowColumns[]
    for (const row of forgotten) {
      this.#sql.endLapsedHold.run(cutoffs.handle, row.hold_id)
      ledger.writeOff(this, cutoffs.handle, toHold(row), cutoffs.now)
    }
    const corrections = Number(
      this.#sql.pruneCorrections.run({ before: cutoffs.lapsedBefore, batch: PRUNE_BATCH }).changes,
    )
    const lapsed = Math.max(forgotten.length, corrections)
    const holds = Math.max(ended, lapsed)
    // Only when a retention is set: by default the audit log is kept for good.
    const audit =
      cutoffs.auditBefore > 0
        ? Number(
            this.#sql.pruneAudit.run({ before: cutoffs.auditBefore, batch: PRUNE_BATCH }).changes,
          )
        : 0
    const events = Number(
      this.#sql.pruneEvents.run({
        before: cutoffs.eventsBefore,
        keep: EVENTS_KEPT,
        batch: PRUNE_BATCH,
      }).changes,
    )
    return Math.max(holds, audit, events)
  }

  /** How an agent was revoked, or undefined while it is active (or unknown). A read. */
  revocation(handle: string): { reason: string; at: number } | undefined {
    const row = this.#sql.revocation.get(handle) as
      | { reason: string | null; at: number }
      | undefined
    return row && { reason: row.reason ?? '', at: row.at }
  }
}

const SQL = {
  exists: 'SELECT 1 AS found FROM agents WHERE handle = ?',
  insertAgent: `INSERT INTO agents (handle, credential_hash, status, cap_micros, spent_micros,
      held_micros, unreconciled_micros, currency, created_at, updated_at, revoked_at,
      revoked_reason, policy, limits, budgets, grants, next_expiry)
    VALUES (:handle, :credential_hash, 'active', :cap_micros, 0, 0, 0, :currency, :created_at,
      :updated_at, :revoked_at, :revoked_reason, :policy, :limits, :budgets, :grants,
      :next_expiry)`,
  agent: `${SELECT_AGENT} WHERE a.handle = ?`,
  handleByHash: 'SELECT handle FROM agents WHERE credential_hash = ?',
  revocation: `SELECT revoked_reason AS reason, revoked_at AS at FROM agents
    WHERE handle = ? AND status = 'revoked'`,
  agents: `${SELECT_AGENT} ORDER BY a.created_at, a.handle`,
  saveAgent: `UPDATE agents SET status = :status, cap_micros = :cap_micros,
      spent_micros = :spent_micros, held_micros = :held_micros,
      unreconciled_micros = :unreconciled_micros, updated_at = :updated_at,
      revoked_at = :revoked_at, revoked_reason = :revoked_reason, policy = :policy,
      limits = :limits, budgets = :budgets, grants = :grants
    WHERE handle = :handle`,
  saveScalars: `UPDATE agents SET status = ?, cap_micros = ?, spent_micros = ?, held_micros = ?,
      unreconciled_micros = ?, updated_at = ?, revoked_at = ?, revoked_reason = ?
    WHERE handle = ?`,
  // Both scan only the agent's live holds (its key prefix in a small table).
  dueHolds: `SELECT hold_id, amount_micros, expires_at, 'held' AS state, 0 AS charged_micros,
      updated_at, levels, label
    FROM live_holds WHERE handle = ? AND expires_at <= ?
    ORDER BY expires_at, hold_id`,
  nextExpiry: 'SELECT MIN(expires_at) AS next FROM live_holds WHERE handle = ? AND expires_at > ?',
  saveLiveHold: `INSERT INTO live_holds (handle, hold_id, amount_micros, expires_at, updated_at,
      levels, label)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (handle, hold_id) DO UPDATE SET amount_micros = excluded.amount_micros,
      expires_at = excluded.expires_at, updated_at = excluded.updated_at,
      levels = excluded.levels`,
  endLiveHold: 'DELETE FROM live_holds WHERE handle = ? AND hold_id = ?',
  expiryBound: 'SELECT next_expiry FROM agents WHERE handle = ?',
  setExpiry: 'UPDATE agents SET next_expiry = ? WHERE handle = ?',
  lowerExpiry: 'UPDATE agents SET next_expiry = ? WHERE handle = ? AND next_expiry > ?',
  // The agents' expiry bounds (one row each) stand in for an index over every live hold.
  anyDueAtAll: 'SELECT 1 AS due FROM agents WHERE next_expiry <= ? LIMIT 1',
  dueHandles: 'SELECT handle FROM agents WHERE next_expiry <= ?',
  // Agents with grants (most have none): sweepAll drops the expired ones.
  grantHandles: "SELECT handle, grants FROM agents WHERE grants <> '[]'",
  saveEndedHold: `INSERT INTO ended_holds (gen, handle, hold_id, amount_micros, expires_at, state,
      charged_micros, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (gen, handle, hold_id) DO UPDATE SET amount_micros = excluded.amount_micros,
      expires_at = excluded.expires_at, state = excluded.state,
      charged_micros = excluded.charged_micros, updated_at = excluded.updated_at`,
  endEndedHold: 'DELETE FROM ended_holds WHERE gen = ? AND handle = ? AND hold_id = ?',
  saveLapsedHold: `INSERT INTO lapsed_holds (handle, hold_id, amount_micros, expires_at, state,
      charged_micros, updated_at, levels)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (handle, hold_id) DO UPDATE SET amount_micros = excluded.amount_micros,
      expires_at = excluded.expires_at, state = excluded.state,
      charged_micros = excluded.charged_micros, updated_at = excluded.updated_at,
      levels = excluded.levels`,
  endLapsedHold: 'DELETE FROM lapsed_holds WHERE handle = ? AND hold_id = ?',
  approval: 'SELECT record FROM approvals WHERE id = ?',
  approvals: 'SELECT record FROM approvals ORDER BY created_at, id',
  pendingApproval: `SELECT record FROM approvals WHERE handle = ? AND status = 'pending'
    ORDER BY created_at DESC LIMIT 1`,
  saveApproval: `INSERT INTO approvals (id, handle, status, record, created_at)
    VALUES (:id, :handle, :status, :record, :created_at)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record`,
  budget: 'SELECT * FROM budgets WHERE id = ?',
  budgets: 'SELECT * FROM budgets ORDER BY created_at, id',
  saveBudget: `INSERT INTO budgets (id, limits, time_zone, parent_id, created_at, updated_at)
    VALUES (:id, :limits, :time_zone, :parent_id, :created_at, :updated_at)
    ON CONFLICT (id) DO UPDATE SET limits = excluded.limits, time_zone = excluded.time_zone,
      parent_id = excluded.parent_id, updated_at = excluded.updated_at`,
  usage: 'SELECT spent_micros, held_micros FROM usage WHERE key = ?',
  saveUsage: `INSERT INTO usage (key, spent_micros, held_micros) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET spent_micros = excluded.spent_micros,
      held_micros = excluded.held_micros`,
  // Whole generations older than the retention, a key range: no scan of what is kept.
  pruneEnded: `DELETE FROM ended_holds WHERE (gen, handle, hold_id) IN (
      SELECT gen, handle, hold_id FROM ended_holds WHERE gen < :gen LIMIT :batch)`,
  // One agent's (its key's prefix), written off as they are forgotten.
  staleLapsed: `SELECT hold_id, amount_micros, expires_at, state, charged_micros, updated_at,
      levels FROM lapsed_holds
    WHERE handle = :handle AND state = 'lapsed' AND updated_at < :before LIMIT :batch`,
  // Corrections of lapses kept with their window keys (settled: no charge to write off).
  pruneCorrections: `DELETE FROM lapsed_holds WHERE (handle, hold_id) IN (
      SELECT handle, hold_id FROM lapsed_holds WHERE updated_at < :before AND state <> 'lapsed'
      LIMIT :batch)`,
  // Like the audit: the oldest batch by seq, of those EVENTS_KEPT newer ones follow.
  pruneEvents: `DELETE FROM events WHERE seq IN (
      SELECT seq FROM (SELECT seq, at FROM events
        WHERE seq <= (SELECT MAX(seq) FROM events) - :keep ORDER BY seq LIMIT :batch)
      WHERE at < :before)`,
  // The oldest batch only (by seq, the primary key): bounded work even when none is due.
  pruneAudit: `DELETE FROM audit WHERE seq IN (
      SELECT seq FROM (SELECT seq, at FROM audit ORDER BY seq LIMIT :batch) WHERE at < :before)`,
  insertEvent: 'INSERT INTO events (origin, type, handle, reason, at) VALUES (?, ?, ?, ?, ?)',
  insertAudit: `INSERT INTO audit (handle, at, type, summary, data)
    VALUES (:handle, :at, :type, :summary, :data)`,
  // LIMIT -1 is no limit; the index audit_by_agent (handle, seq) serves both orders.
  auditPage: `SELECT * FROM (SELECT * FROM audit WHERE handle = :handle AND seq < :before
      ORDER BY seq DESC LIMIT :limit)
    ORDER BY seq`,
  // The agent's next seq; under the write lock, so no two writers can take the same one.
  lastActivity: 'SELECT MAX(seq) AS seq FROM activity WHERE handle = ?',
  insertActivity: 'INSERT INTO activity (handle, seq, event) VALUES (?, ?, ?)',
  trimActivity: `DELETE FROM activity WHERE handle = :handle AND seq <= (
      SELECT seq FROM activity WHERE handle = :handle ORDER BY seq DESC LIMIT 1 OFFSET :keep)`,
  activitySince: 'SELECT event FROM activity WHERE handle = ? AND seq > ? ORDER BY seq',
  mark: 'INSERT OR IGNORE INTO marks (handle, key) VALUES (?, ?)',
} as const
