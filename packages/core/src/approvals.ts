// The approvals API: the queue of requests to spend past a cap, and the decisions. A
// decision can come from any process sharing the store (this API, the CLI, the admin API,
// a signed link); a call waiting for it sees it within its poll interval.
import { z } from 'zod'
import { actorSchema, parseInput } from './config.js'
import { type Engine, storeCall } from './engine.js'
import { ApprovalNotFoundError } from './errors.js'
import type { ApprovalEvent, EventHub } from './events.js'
import { MAX_TTL_MS } from './ledger/ledger-input.js'
import { toMicros, toUsd } from './money.js'
import { storedReason } from './redact.js'
import type { ApprovalRecord, Store } from './store.js'

/** An approval request as `approvals.list` shows it. */
export type ApprovalSnapshot = ApprovalEvent

/** `ks.approvals`. */
export interface ApprovalsApi {
  list(filter?: { status?: ApprovalRecord['status'] }): Promise<ApprovalSnapshot[]>
  get(id: string): Promise<ApprovalSnapshot>
  /** A grant: up to `amount` dollars more, for `ttlMs`; `reason`, why (kept and audited). */
  approve(
    id: string,
    grant: { amount: number; ttlMs: number; by?: string; reason?: string },
  ): Promise<ApprovalSnapshot>
  deny(id: string, options?: { reason?: string; by?: string }): Promise<ApprovalSnapshot>
}

/** How long a grant may last: what `approvals.approve` takes as `ttlMs` (one second to 7 days). */
export const GRANT_TTL_BOUNDS_MS = { min: 1_000, max: MAX_TTL_MS } as const

const idSchema = z.string().min(1).max(200)
// A misspelt status ('pendng') showed an empty queue: refused, naming the statuses.
const listSchema = z
  .object({ status: z.enum(['pending', 'approved', 'denied', 'expired']).optional() })
  .strict()
// Why a request was decided: kept, audited and told to a denied agent, so masked as every
// kept reason is (red team rt40: a key pasted into a denial reached the agent whole).
const reasonSchema = z.string().max(500).transform(storedReason)
const approveSchema = z
  .object({
    // The ledger counts whole micro-dollars: a smaller grant would be recorded as $0.
    amount: z
      .number()
      .finite()
      .min(0.000001, 'a grant of at least $0.000001 (the ledger counts micro-dollars)')
      .max(1_000_000_000),
    ttlMs: z
      .number()
      .int()
      .min(GRANT_TTL_BOUNDS_MS.min, 'at least 1000 ms')
      .max(GRANT_TTL_BOUNDS_MS.max, 'at most 7 days'),
    by: actorSchema.optional(),
    reason: reasonSchema.optional(),
  })
  .strict()
const denySchema = z
  .object({ reason: reasonSchema.optional(), by: actorSchema.optional() })
  .strict()

/**
 * Denies the agent's open approval requests, once it is revoked: a revoked agent is never
 * approved, so a request left open would only ask on-call a question with one answer (and
 * fail when approved). Each is its own write; one that was decided meanwhile is passed over.
 */
export async function denyOpenApprovals(
  store: Store,
  events: Pick<EventHub, 'emit'>,
  handle: string,
  now: number,
): Promise<void> {
  const open = await store.listApprovals(now, { status: 'pending' })
  for (const approval of open.filter((each) => each.handle === handle)) {
    const reason = 'the agent was revoked'
    const record = await store
      .decideApproval({
        id: approval.id,
        status: 'denied',
        by: 'killswitch',
        reason,
        now,
        audit: {
          at: now,
          handle,
          type: 'approval',
          summary: `approval ${approval.id} denied by killswitch: ${reason}`,
          data: { approvalId: approval.id, event: 'denied', by: 'killswitch', reason },
        },
      })
      .catch(() => undefined)
    if (record) events.emit('approval_decided', toApprovalEvent(record))
  }
}

/** The public view of a request. */
export function toApprovalEvent(record: ApprovalRecord): ApprovalEvent {
  return {
    id: record.id,
    handle: record.handle,
    status: record.status,
    requested: toUsd(record.requestedMicros),
    reason: record.reason,
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
    ...(record.decidedBy === undefined ? {} : { decidedBy: record.decidedBy }),
    ...(record.decisionReason === undefined ? {} : { decisionReason: record.decisionReason }),
    ...(record.grant === undefined
      ? {}
      : {
          grant: {
            amount: toUsd(record.grant.amountMicros),
            expiresAt: new Date(record.grant.expiresAt).toISOString(),
          },
        }),
  }
}

/** Builds the approvals API over an engine. */
export function createApprovalsApi(engine: Engine): ApprovalsApi {
  const store = engine.store
  const call = <T>(operation: () => Promise<T>) => storeCall(store, operation)

  const decided = (record: ApprovalRecord) => {
    const event = toApprovalEvent(record)
    engine.events.emit('approval_decided', event)
    return event
  }

  return {
    async list(filter = {}) {
      const checked = parseInput(listSchema, filter, 'approvals.list')
      return (await call(() => store.listApprovals(engine.now(), checked))).map(toApprovalEvent)
    },

    async get(id) {
      const record = await call(() =>
        store.getApproval(parseInput(idSchema, id, 'approvals.get'), engine.now()),
      )
      if (!record) throw new ApprovalNotFoundError(id)
      return toApprovalEvent(record)
    },

    async approve(id, grant) {
      const checked = parseInput(idSchema, id, 'approvals.approve')
      const parsed = parseInput(approveSchema, grant, 'approvals.approve')
      const now = engine.now()
      const by = parsed.by ?? 'operator'
      const amount = toMicros(parsed.amount)
      // Why it was granted, for the audit afterwards (red team rt40: a grant said who and
      // what, never why).
      const { reason } = parsed
      const record = await call(async () => {
        const current = await store.getApproval(checked, now)
        return store.decideApproval({
          id: checked,
          status: 'approved',
          by,
          ...(reason === undefined ? {} : { reason }),
          grant: { amountMicros: amount, ttlMs: parsed.ttlMs },
          now,
          audit: current && {
            at: now,
            handle: current.handle,
            type: 'approval',
            summary: `approval ${checked} approved by ${by}: up to $${parsed.amount} more until ${new Date(now + parsed.ttlMs).toISOString()}${reason ? ` (${reason})` : ''}`,
            data: {
              approvalId: checked,
              event: 'approved',
              by,
              amount: parsed.amount,
              ttlMs: parsed.ttlMs,
              reason: reason ?? null,
            },
          },
        })
      })
      return decided(record)
    },

    async deny(id, options = {}) {
      const checked = parseInput(idSchema, id, 'approvals.deny')
      const parsed = parseInput(denySchema, options, 'approvals.deny')
      const now = engine.now()
      const by = parsed.by ?? 'operator'
      const { reason } = parsed
      const record = await call(async () => {
        const current = await store.getApproval(checked, now)
        return store.decideApproval({
          id: checked,
          status: 'denied',
          by,
          ...(reason === undefined ? {} : { reason }),
          now,
          audit: current && {
            at: now,
            handle: current.handle,
            type: 'approval',
            summary: `approval ${checked} denied by ${by}${reason ? `: ${reason}` : ''}`,
            data: { approvalId: checked, event: 'denied', by, reason: reason ?? null },
          },
        })
      })
      return decided(record)
    },
  }
}
