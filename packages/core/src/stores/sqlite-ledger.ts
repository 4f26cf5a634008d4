// The SQL of the sqlite store. Every method here runs INSIDE one write transaction opened by
// the store (or is a single read statement), so each is atomic across processes: the checks
// and the writes of a reserve see the same balance because nobody else can write between them.

import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { AuditEntry } from '../audit.js'
import { AgentExistsError, AgentNotFoundError } from '../errors.js'
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
} from '../store.js'
import { lapsedHoldEntry } from './lapsed-hold-entry.js'
import {
  type AgentRow,
  type AuditRow,
  auditParams,
  SELECT_AGENT,
  toActivityEvent,
  toAgentRecord,
  toAuditEntry,
} from './sqlite-rows.js'

type HoldState = 'held' | 'settled' | 'released' | 'expired'
type HoldRow = { state: HoldState; expires_at: number; amount_micros: number }

export class SqliteLedger {
  readonly #origin: string
  readonly #sql: Record<keyof typeof SQL, StatementSync>

  /** `origin` tags the events this process writes, so its own poller skips them. */
  constructor(db: DatabaseSync, origin: string) {
    this.#origin = origin
    this.#sql = Object.fromEntries(
      Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]),
    ) as Record<keyof typeof SQL, StatementSync>
  }

  createAgent(record: NewAgentRecord): AgentRecord {
    if (this.#sql.exists.get(record.handle)) throw new AgentExistsError(record.handle)
    this.#sql.insertAgent.run({
      handle: record.handle,
      credential_hash: record.credentialHash,
      cap_micros: record.capMicros,
      currency: record.currency,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      revoked_at: record.revokedAt ?? null,
      revoked_reason: record.revokedReason ?? null,
      policy: JSON.stringify(record.policy),
    })
    return this.#mustGet(record.handle, record.updatedAt)
  }

  getAgent(handle: string, now: number): AgentRecord | undefined {
    const row = this.#sql.agent.get({ handle, now }) as AgentRow | undefined
    return row && toAgentRecord(row)
  }

  findByCredentialHash(hash: string, now: number): AgentRecord | undefined {
    const row = this.#sql.agentByHash.get({ hash, now }) as AgentRow | undefined
    return row && toAgentRecord(row)
  }

  listAgents(now: number): AgentRecord[] {
    return (this.#sql.agents.all({ now }) as unknown as AgentRow[]).map(toAgentRecord)
  }

  updateAgent(
    handle: string,
    patch: { capMicros?: number; policy?: AgentPolicy },
    now: number,
    audit?: AuditEntry,
  ): AgentRecord {
    const current = this.#mustGet(handle, now)
    this.#sql.updateAgent.run({
      handle,
      cap_micros: patch.capMicros ?? current.capMicros,
      policy: JSON.stringify(patch.policy ?? current.policy),
      now,
    })
    this.#sql.insertEvent.run(this.#origin, 'updated', handle, null, now)
    this.insertAudit(audit ? [audit] : [])
    return this.#mustGet(handle, now)
  }

  revokeAgent(
    handle: string,
    reason: string,
    now: number,
    audit?: AuditEntry,
  ): { agent: AgentRecord; alreadyRevoked: boolean } {
    const current = this.#mustGet(handle, now)
    if (current.status === 'revoked') return { agent: current, alreadyRevoked: true }
    this.#sql.revokeAgent.run({ handle, reason, now })
    this.#sql.insertEvent.run(this.#origin, 'revoked', handle, reason, now)
    this.insertAudit(audit ? [audit] : [])
    return { agent: this.#mustGet(handle, now), alreadyRevoked: false }
  }

  // The ledger methods below compute the record they return from the one they read, instead
  // of reading it again: nobody else can write inside this transaction, and a reserve +
  // settle pair is then 2 reads fewer (PERFORMANCE.md: <= 100 µs for both).

  reserve(request: ReserveRequest): ReserveResult {
    const { handle, holdId, amountMicros, expiresAt, now } = request
    const row = this.#sql.agentForWrite.get({ handle, now }) as
      | (AgentRow & { lapsed: number })
      | undefined
    if (!row) return { ok: false, reason: 'not_found' }
    if (row.lapsed > 0) {
      const lapsed = this.#sql.lapsedHolds.all({ handle, now }) as unknown as LapsedHoldRow[]
      this.insertAudit(
        lapsed.map((hold) =>
          lapsedHoldEntry(
            handle,
            hold.hold_id,
            Number(hold.amount_micros),
            Number(hold.expires_at),
            now,
          ),
        ),
      )
      this.#sql.expireHolds.run({ handle, now })
    }
    const agent = toAgentRecord(row)
    if (agent.status === 'revoked') return { ok: false, reason: 'revoked', agent }
    // A retried reserve with the same hold id must not hold twice.
    if (this.#holdState(handle, holdId) === 'held') return { ok: true, agent }
    const available = agent.capMicros - agent.spentMicros - agent.heldMicros
    if (available <= 0 || amountMicros > available) return { ok: false, reason: 'cap', agent }
    this.#sql.upsertHold.run({
      handle,
      hold_id: holdId,
      amount: amountMicros,
      expires_at: expiresAt,
      state: 'held',
      now,
    })
    this.insertAudit(request.audit ? [request.audit] : [])
    return { ok: true, agent: { ...agent, heldMicros: agent.heldMicros + amountMicros } }
  }

  settle(request: SettleRequest): SettleResult {
    const { handle, holdId, costMicros, now } = request
    const before = this.#mustGet(handle, now)
    const hold = this.#sql.hold.get(handle, holdId) as HoldRow | undefined
    if (hold && (hold.state === 'settled' || hold.state === 'released')) {
      return { outcome: 'duplicate', agent: before }
    }
    // The money was spent whether or not the hold was still live: record it either way.
    const live = hold?.state === 'held' && hold.expires_at > now
    this.#sql.addSpend.run({ handle, cost: costMicros })
    if (hold) {
      this.#sql.finishHold.run({ handle, hold_id: holdId, state: 'settled', now })
    } else {
      this.#sql.upsertHold.run({
        handle,
        hold_id: holdId,
        amount: 0,
        expires_at: now,
        state: 'settled',
        now,
      })
    }
    this.insertAudit(request.audit ? [request.audit] : [])
    const agent = {
      ...before,
      spentMicros: before.spentMicros + costMicros,
      heldMicros: before.heldMicros - (live ? (hold?.amount_micros ?? 0) : 0),
    }
    return { outcome: live ? 'settled' : 'late', agent }
  }

  release(request: ReleaseRequest): ReleaseResult {
    const { handle, holdId, now } = request
    const before = this.#mustGet(handle, now)
    const hold = this.#sql.hold.get(handle, holdId) as HoldRow | undefined
    if (!hold) {
      // Released before it was ever held (the call failed before its reserve landed):
      // remember it, so a settle that arrives afterwards cannot charge it.
      this.#sql.upsertHold.run({
        handle,
        hold_id: holdId,
        amount: 0,
        expires_at: now,
        state: 'released',
        now,
      })
      return { outcome: 'none', agent: before }
    }
    if (hold.state !== 'held' || hold.expires_at <= now) return { outcome: 'none', agent: before }
    this.#sql.finishHold.run({ handle, hold_id: holdId, state: 'released', now })
    this.insertAudit(request.audit ? [request.audit] : [])
    const agent = { ...before, heldMicros: before.heldMicros - hold.amount_micros }
    return { outcome: 'released', agent }
  }

  insertAudit(entries: readonly AuditEntry[]): void {
    for (const entry of entries) this.#sql.insertAudit.run(auditParams(entry))
  }

  /** Oldest first; with `limit`, the most recent `limit` entries. */
  readAudit(handle: string, limit?: number): AuditEntry[] {
    const rows =
      limit === undefined
        ? this.#sql.audit.all(handle)
        : this.#sql.auditTail.all(handle, Math.max(0, Math.floor(limit)))
    return (rows as unknown as AuditRow[]).map(toAuditEntry)
  }

  recordActivity(handle: string, event: ActivityEvent, keep: number): ActivityEvent[] {
    // An unknown agent has no window to keep (as in the memory store).
    if (!this.#sql.exists.get(handle)) return [event]
    const window = Math.max(1, Math.floor(keep))
    this.#sql.insertActivity.run(handle, JSON.stringify(event))
    this.#sql.trimActivity.run({ handle, keep: window })
    return (this.#sql.activity.all(handle) as { event: string }[]).map(toActivityEvent)
  }

  markOnce(handle: string, key: string): boolean {
    if (!this.#sql.exists.get(handle)) throw new AgentNotFoundError(handle)
    return Number(this.#sql.mark.run(handle, key).changes) === 1
  }

  /** Forgets finished holds older than `holdsBefore` and events older than `eventsBefore`. */
  prune(holdsBefore: number, eventsBefore: number): void {
    this.#sql.pruneHolds.run(holdsBefore)
    this.#sql.pruneEvents.run(eventsBefore)
  }

  #holdState(handle: string, holdId: string): HoldState | undefined {
    return (this.#sql.hold.get(handle, holdId) as { state: HoldState } | undefined)?.state
  }

  #mustGet(handle: string, now: number): AgentRecord {
    const agent = this.getAgent(handle, now)
    if (!agent) throw new AgentNotFoundError(handle)
    return agent
  }
}

interface LapsedHoldRow {
  hold_id: string
  amount_micros: number | bigint
  expires_at: number | bigint
}

const SQL = {
  exists: 'SELECT 1 AS found FROM agents WHERE handle = ?',
  insertAgent: `INSERT INTO agents (handle, credential_hash, status, cap_micros, spent_micros,
      currency, created_at, updated_at, revoked_at, revoked_reason, policy)
    VALUES (:handle, :credential_hash, 'active', :cap_micros, 0, :currency, :created_at,
      :updated_at, :revoked_at, :revoked_reason, :policy)`,
  agent: `${SELECT_AGENT} WHERE a.handle = :handle`,
  // For reserve: also counts holds that lapsed but are still marked held, to sweep them.
  agentForWrite: `${SELECT_AGENT.replace(
    'FROM agents a',
    `, EXISTS (
      SELECT 1 FROM holds l
      WHERE l.handle = a.handle AND l.state = 'held' AND l.expires_at <= :now
    ) AS lapsed FROM agents a`,
  )} WHERE a.handle = :handle`,
  agentByHash: `${SELECT_AGENT} WHERE a.credential_hash = :hash`,
  agents: `${SELECT_AGENT} ORDER BY a.created_at, a.handle`,
  updateAgent: `UPDATE agents SET cap_micros = :cap_micros, policy = :policy, updated_at = :now
    WHERE handle = :handle`,
  revokeAgent: `UPDATE agents SET status = 'revoked', revoked_at = :now,
      revoked_reason = :reason, updated_at = :now
    WHERE handle = :handle AND status = 'active'`,
  addSpend: 'UPDATE agents SET spent_micros = spent_micros + :cost WHERE handle = :handle',
  hold: 'SELECT state, expires_at, amount_micros FROM holds WHERE handle = ? AND hold_id = ?',
  lapsedHolds: `SELECT hold_id, amount_micros, expires_at FROM holds
    WHERE handle = :handle AND state = 'held' AND expires_at <= :now ORDER BY expires_at`,
  expireHolds: `UPDATE holds SET state = 'expired', updated_at = :now
    WHERE handle = :handle AND state = 'held' AND expires_at <= :now`,
  upsertHold: `INSERT INTO holds (handle, hold_id, amount_micros, expires_at, state, updated_at)
    VALUES (:handle, :hold_id, :amount, :expires_at, :state, :now)
    ON CONFLICT (handle, hold_id) DO UPDATE SET amount_micros = excluded.amount_micros,
      expires_at = excluded.expires_at, state = excluded.state, updated_at = excluded.updated_at`,
  finishHold: `UPDATE holds SET state = :state, updated_at = :now
    WHERE handle = :handle AND hold_id = :hold_id`,
  pruneHolds: "DELETE FROM holds WHERE state <> 'held' AND updated_at < ?",
  pruneEvents: 'DELETE FROM events WHERE at < ?',
  insertEvent: 'INSERT INTO events (origin, type, handle, reason, at) VALUES (?, ?, ?, ?, ?)',
  insertAudit: `INSERT INTO audit (handle, at, type, summary, data)
    VALUES (:handle, :at, :type, :summary, :data)`,
  audit: 'SELECT * FROM audit WHERE handle = ? ORDER BY seq',
  auditTail: `SELECT * FROM (SELECT * FROM audit WHERE handle = ? ORDER BY seq DESC LIMIT ?)
    ORDER BY seq`,
  insertActivity: 'INSERT INTO activity (handle, event) VALUES (?, ?)',
  trimActivity: `DELETE FROM activity WHERE handle = :handle AND seq <= (
      SELECT seq FROM activity WHERE handle = :handle ORDER BY seq DESC LIMIT 1 OFFSET :keep)`,
  activity: 'SELECT event FROM activity WHERE handle = ? ORDER BY seq',
  mark: 'INSERT OR IGNORE INTO marks (handle, key) VALUES (?, ?)',
} as const
