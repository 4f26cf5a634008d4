// Rows of the sqlite store and their mapping to the Store interface's records.

import type { AuditEntry } from '../audit.js'
import type { AgentPolicy } from '../policy.js'
import type {
  ActivityEvent,
  AgentRecord,
  BudgetRecord,
  GrantRecord,
  LimitRecord,
} from '../store.js'

/** An `agents` row. */
export interface AgentRow {
  handle: string
  credential_hash: string
  status: 'active' | 'revoked'
  cap_micros: number
  spent_micros: number
  held_micros: number
  unreconciled_micros: number
  currency: string
  created_at: number
  updated_at: number
  revoked_at: number | null
  revoked_reason: string | null
  policy: string
  limits: string
  budgets: string
  grants: string
  /** A lower bound on the earliest expiry of the agent's live holds (schema v5). */
  next_expiry: number
}

/** The agent columns; callers add their own WHERE / ORDER BY. */
export const SELECT_AGENT = 'SELECT a.* FROM agents a'

/** Agents whose parsed JSON columns are kept (the cache is dropped whole past it). */
const PARSED_KEPT = 10_000

type JsonColumns = Pick<AgentRow, 'policy' | 'limits' | 'budgets' | 'grants'>

/**
 * The parsed JSON columns of each agent, reused while the stored text is unchanged: four
 * JSON.parse per read were a fifth of a transition's statements. The values are frozen
 * (deeply), because every record read from the same text now shares them: a caller that
 * tried to change one would otherwise change it for every later read.
 */
export class ParsedAgentColumns {
  readonly #byHandle = new Map<string, { raw: JsonColumns; parsed: JsonValues }>()

  parse(row: AgentRow): JsonValues {
    const cached = this.#byHandle.get(row.handle)
    if (
      cached !== undefined &&
      cached.raw.policy === row.policy &&
      cached.raw.limits === row.limits &&
      cached.raw.budgets === row.budgets &&
      cached.raw.grants === row.grants
    ) {
      return cached.parsed
    }
    const parsed = deepFreeze(parseJsonColumns(row))
    if (this.#byHandle.size >= PARSED_KEPT) this.#byHandle.clear()
    this.#byHandle.set(row.handle, {
      raw: { policy: row.policy, limits: row.limits, budgets: row.budgets, grants: row.grants },
      parsed,
    })
    return parsed
  }
}

interface JsonValues {
  policy: AgentPolicy
  limits: LimitRecord[]
  budgets: string[]
  grants: GrantRecord[]
}

function parseJsonColumns(row: JsonColumns): JsonValues {
  return {
    policy: JSON.parse(row.policy) as AgentPolicy,
    limits: JSON.parse(row.limits) as LimitRecord[],
    budgets: JSON.parse(row.budgets) as string[],
    grants: JSON.parse(row.grants) as GrantRecord[],
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

export function toAgentRecord(row: AgentRow, columns?: ParsedAgentColumns): AgentRecord {
  const json = columns ? columns.parse(row) : parseJsonColumns(row)
  const record: AgentRecord = {
    handle: row.handle,
    credentialHash: row.credential_hash,
    status: row.status,
    capMicros: row.cap_micros,
    spentMicros: row.spent_micros,
    heldMicros: row.held_micros,
    unreconciledMicros: row.unreconciled_micros,
    currency: 'usd',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    policy: json.policy,
    limits: json.limits,
    budgets: json.budgets,
    grants: json.grants,
  }
  if (row.revoked_at !== null) record.revokedAt = row.revoked_at
  if (row.revoked_reason !== null) record.revokedReason = row.revoked_reason
  return record
}

export interface AuditRow {
  seq: number
  handle: string
  at: number
  type: string
  summary: string
  data: string
}

export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    at: row.at,
    handle: row.handle,
    type: row.type as AuditEntry['type'],
    summary: row.summary,
    data: JSON.parse(row.data) as Record<string, unknown>,
    seq: row.seq,
  }
}

export function auditParams(entry: AuditEntry) {
  return {
    handle: entry.handle,
    at: entry.at,
    type: entry.type,
    summary: entry.summary,
    data: JSON.stringify(entry.data ?? {}),
  }
}

export function toActivityEvent(row: { event: string }): ActivityEvent {
  return JSON.parse(row.event) as ActivityEvent
}

export interface BudgetRow {
  id: string
  limits: string
  time_zone: string | null
  parent_id: string | null
  created_at: number
  updated_at: number
}

export function toBudgetRecord(row: BudgetRow): BudgetRecord {
  return {
    id: row.id,
    limits: JSON.parse(row.limits) as LimitRecord[],
    ...(row.time_zone === null ? {} : { timeZone: row.time_zone }),
    ...(row.parent_id === null ? {} : { parentId: row.parent_id }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}
