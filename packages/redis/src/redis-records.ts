// Decoding the Redis store's replies into the Store interface's records.

import type { AgentPolicy, AgentRecord, AuditEntry, Store } from '@killswitch/core'

type BudgetRecord = Parameters<Store['createBudget']>[0]
type ApprovalRecord = Awaited<ReturnType<Store['decideApproval']>>

function pairsOf(reply: unknown): Record<string, string> {
  const pairs = reply as (string | number)[]
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < pairs.length; i += 2) fields[String(pairs[i])] = String(pairs[i + 1])
  return fields
}

/** An agent hash as the scripts return it (HGETALL pairs). */
export function toAgentRecord(reply: unknown): AgentRecord {
  const fields = pairsOf(reply)
  const record: AgentRecord = {
    handle: fields.handle ?? '',
    credentialHash: fields.credentialHash ?? '',
    status: fields.status === 'revoked' ? 'revoked' : 'active',
    capMicros: Number(fields.capMicros),
    spentMicros: Number(fields.spentMicros),
    heldMicros: Number(fields.heldMicros ?? 0),
    unreconciledMicros: Number(fields.unreconciledMicros ?? 0),
    currency: 'usd',
    createdAt: Number(fields.createdAt),
    updatedAt: Number(fields.updatedAt),
    policy: JSON.parse(fields.policy ?? '{}') as AgentPolicy,
    limits: JSON.parse(fields.limits ?? '[]') as AgentRecord['limits'],
    budgets: JSON.parse(fields.budgets ?? '[]') as string[],
    grants: JSON.parse(fields.grants ?? '[]') as AgentRecord['grants'],
  }
  if (fields.revokedAt !== undefined) record.revokedAt = Number(fields.revokedAt)
  if (fields.revokedReason !== undefined) record.revokedReason = fields.revokedReason
  return record
}

export function toAuditEntry(json: string): AuditEntry {
  return JSON.parse(json) as AuditEntry
}

/** A budget hash (HGETALL pairs); undefined for an empty reply (no such budget). */
export function toBudgetRecord(reply: unknown): BudgetRecord | undefined {
  const fields = pairsOf(reply)
  if (fields.id === undefined) return undefined
  const record: BudgetRecord = {
    id: fields.id,
    limits: JSON.parse(fields.limits ?? '[]') as BudgetRecord['limits'],
    createdAt: Number(fields.createdAt),
    updatedAt: Number(fields.updatedAt),
  }
  if (fields.timeZone !== undefined) record.timeZone = fields.timeZone
  if (fields.parentId !== undefined) record.parentId = fields.parentId
  return record
}

/** An approval hash (HGETALL pairs, status as of the store's clock). */
export function toApprovalRecord(reply: unknown): ApprovalRecord {
  const fields = pairsOf(reply)
  const record: ApprovalRecord = {
    id: fields.id ?? '',
    handle: fields.handle ?? '',
    status: (fields.status ?? 'pending') as ApprovalRecord['status'],
    requestedMicros: Number(fields.requestedMicros),
    reason: fields.reason ?? '',
    createdAt: Number(fields.createdAt),
    expiresAt: Number(fields.expiresAt),
  }
  if (fields.decidedAt !== undefined) record.decidedAt = Number(fields.decidedAt)
  if (fields.decidedBy !== undefined) record.decidedBy = fields.decidedBy
  if (fields.decisionReason !== undefined) record.decisionReason = fields.decisionReason
  if (fields.grantAmountMicros !== undefined) {
    record.grant = {
      amountMicros: Number(fields.grantAmountMicros),
      expiresAt: Number(fields.grantExpiresAt),
    }
  }
  return record
}
