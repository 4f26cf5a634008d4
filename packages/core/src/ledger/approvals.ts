// Approvals in the ledger: a person lets an agent spend past its cap by a bounded amount
// for a bounded time. A grant is part of the agent's record, so the reserve that draws on
// it is the same atomic step as every other reserve; it never outlives its expiry, and a
// revoked agent can never be approved back (revocation is status, which no grant touches).
import type { AuditEntry } from '../audit.js'
import {
  AgentNotFoundError,
  AgentRevokedError,
  ApprovalNotFoundError,
  InvalidConfigError,
} from '../errors.js'
import type {
  AgentRecord,
  ApprovalRecord,
  DecideApprovalRequest,
  LeaveApprovalRequest,
  OpenApprovalRequest,
} from '../store.js'
import { checkId, checkMicros, checkTime, checkTtl, saturated } from './ledger-input.js'
import type { LedgerStorage } from './ledger-storage.js'

/**
 * The cap plus the agent's live grants at `now`, at most MAX_TOTAL_MICROS: grants are many,
 * and what is held within this figure must stay a safe integer (ledger-input.ts).
 */
export function effectiveCap(agent: AgentRecord, now: number): number {
  let cap = agent.capMicros
  for (const grant of agent.grants) {
    if (grant.expiresAt > now) cap = saturated(cap + grant.amountMicros)
  }
  return cap
}

/** The audit entry of a grant that expired, for the sweep to write. */
export function grantExpiredEntry(
  handle: string,
  approvalId: string,
  amountMicros: number,
  at: number,
): AuditEntry {
  return {
    at,
    handle,
    type: 'approval',
    summary: `grant of $${amountMicros / 1_000_000} from approval ${approvalId} expired`,
    data: { approvalId, event: 'grant_expired', amount: amountMicros / 1_000_000 },
  }
}

/** A pending request past its expiry reads as expired (written back lazily). */
export function approvalAt(record: ApprovalRecord, now: number): ApprovalRecord {
  return record.status === 'pending' && record.expiresAt <= now
    ? { ...record, status: 'expired' }
    : record
}

/** Opens a request for the agent, or returns its open one (concurrent callers share it). */
export function openApproval(
  storage: LedgerStorage,
  request: OpenApprovalRequest,
): { approval: ApprovalRecord; created: boolean } {
  checkId('id', request.id)
  checkMicros('requestedMicros', request.requestedMicros)
  const ttl = checkTtl('ttlMs', request.ttlMs)
  const now = checkTime('now', request.now)
  const agent = storage.agent(request.handle)
  if (!agent) throw new AgentNotFoundError(request.handle)
  const open = storage.pendingApproval(request.handle)
  if (open && approvalAt(open, now).status === 'pending') {
    // A call joining the open request to wait on it adds what it needs: one decision then
    // covers every call waiting (red teams r22 and rt27: a request asking its opener's amount
    // let one call through and refused 15 of 20 honest ones after the grant).
    if (request.waits !== true) return { approval: open, created: false }
    const requestedMicros = saturated(open.requestedMicros + request.requestedMicros)
    const joined = { ...open, requestedMicros }
    storage.saveApproval(joined)
    return { approval: joined, created: false }
  }
  if (open) storage.saveApproval({ ...open, status: 'expired' })
  const approval: ApprovalRecord = {
    id: request.id,
    handle: request.handle,
    status: 'pending',
    requestedMicros: request.requestedMicros,
    reason: request.reason.slice(0, 500),
    createdAt: now,
    expiresAt: now + ttl,
  }
  storage.saveApproval(approval)
  if (request.audit) storage.appendAudit(request.audit)
  return { approval, created: true }
}

/** A waiting call leaves the open request: what it added comes off (Store.leaveApproval). */
export function leaveApproval(storage: LedgerStorage, request: LeaveApprovalRequest): void {
  const amount = checkMicros('requestedMicros', request.requestedMicros)
  const now = checkTime('now', request.now)
  const open = storage.pendingApproval(request.handle)
  if (!open || open.id !== request.id || approvalAt(open, now).status !== 'pending') return
  // The last call to leave leaves its need: a retry of it is what a grant would let through.
  const left = open.requestedMicros - amount
  const requestedMicros = left > 0 ? left : amount
  if (requestedMicros !== open.requestedMicros) storage.saveApproval({ ...open, requestedMicros })
}

/** Decides a pending request; approving adds its grant to the agent atomically. */
export function decideApproval(
  storage: LedgerStorage,
  request: DecideApprovalRequest,
): ApprovalRecord {
  const now = checkTime('now', request.now)
  const stored = storage.approval(checkId('id', request.id))
  if (!stored) throw new ApprovalNotFoundError(request.id)
  const current = approvalAt(stored, now)
  if (current.status !== 'pending') {
    throw new InvalidConfigError(
      'id',
      `Approval request ${request.id} is ${current.status} already: a request is decided once.`,
    )
  }
  const agent = storage.agent(current.handle)
  if (!agent) throw new AgentNotFoundError(current.handle)
  const decided: ApprovalRecord = {
    ...current,
    status: request.status,
    decidedAt: now,
    decidedBy: request.by,
    ...(request.reason === undefined ? {} : { decisionReason: request.reason.slice(0, 500) }),
  }
  if (request.status === 'approved') {
    if (agent.status === 'revoked') {
      throw new AgentRevokedError({
        handle: agent.handle,
        reason: agent.revokedReason,
        message: `Agent "${agent.handle}" is revoked: approvals never bring a revoked agent back.`,
      })
    }
    if (!request.grant)
      throw new InvalidConfigError(
        'grant',
        'An approval needs a grant: an amount and how long it lasts.',
      )
    const amount = checkMicros('grant.amountMicros', request.grant.amountMicros)
    const expiresAt = now + checkTtl('grant.ttlMs', request.grant.ttlMs)
    decided.grant = { amountMicros: amount, expiresAt }
    storage.saveAgent({
      ...agent,
      grants: [
        ...agent.grants.filter((grant) => grant.expiresAt > now),
        { approvalId: current.id, amountMicros: amount, expiresAt },
      ],
      updatedAt: now,
    })
  }
  storage.saveApproval(decided)
  if (request.audit) storage.appendAudit(request.audit)
  return decided
}
