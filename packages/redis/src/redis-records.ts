// Decoding the Redis store's replies into the Store interface's records.

import type { AgentPolicy, AgentRecord, AuditEntry } from '@killswitch/core'

/** An agent hash as the scripts return it: HGETALL pairs plus `liveHeldMicros`. */
export function toAgentRecord(reply: unknown): AgentRecord {
  const pairs = reply as (string | number)[]
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < pairs.length; i += 2) fields[String(pairs[i])] = String(pairs[i + 1])
  const record: AgentRecord = {
    handle: fields.handle ?? '',
    credentialHash: fields.credentialHash ?? '',
    status: fields.status === 'revoked' ? 'revoked' : 'active',
    capMicros: Number(fields.capMicros),
    spentMicros: Number(fields.spentMicros),
    heldMicros: Number(fields.liveHeldMicros),
    currency: 'usd',
    createdAt: Number(fields.createdAt),
    updatedAt: Number(fields.updatedAt),
    policy: JSON.parse(fields.policy ?? '{}') as AgentPolicy,
  }
  if (fields.revokedAt !== undefined) record.revokedAt = Number(fields.revokedAt)
  if (fields.revokedReason !== undefined) record.revokedReason = fields.revokedReason
  return record
}

export function toAuditEntry(json: string): AuditEntry {
  return JSON.parse(json) as AuditEntry
}
