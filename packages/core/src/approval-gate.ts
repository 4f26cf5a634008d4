// What a call does at the cap of an agent whose approvals are on: open (or join) the
// agent's approval request, tell on-call, and wait up to `waitMs` for a person's decision.
// Approved: the grant is in the ledger, so the caller reserves again and fits. Denied or
// undecided: a typed error. Nothing past the cap is spent unless a person granted it.
import { randomUUID } from 'node:crypto'
import { toApprovalEvent } from './approvals.js'
import { type Engine, storeCall } from './engine.js'
import { ApprovalDeniedError, ApprovalRequiredError } from './errors.js'
import type { AgentRecord, ApprovalRecord, LevelRefusal } from './store.js'

/** How long a request stays open for a decision (a framework may resume a run later). */
export const APPROVAL_REQUEST_TTL_MS = 24 * 3_600_000
/** How often a waiting call reads the request (decisions may come from another process). */
const POLL_MS = 100

/** True when the agent asks a person at its cap instead of refusing. */
export function approvalsOn(agent: AgentRecord): boolean {
  return agent.policy.approvals?.enabled === true && agent.status === 'active'
}

/**
 * True when a refusal asks a person instead, for an agent whose approvals are `on`: past its
 * own spending cap it asks, as a grant raises that cap. Its own windows (a per-day limit)
 * and a shared budget are refused, never asked: a grant does not raise them, so an approved
 * call would be refused again (and one agent's approver cannot spend what a team shares).
 * The one statement of that rule.
 *
 * @example
 * if (asksPerson(approvalsOn(agent), result.refusal)) await askApproval()
 */
export function asksPerson(
  on: boolean,
  refusal: Pick<LevelRefusal, 'level' | 'per'> | undefined,
): boolean {
  // No refusal from the ledger: the agent's own figures left nothing, i.e. its cap.
  return on && (refusal === undefined || (refusal.level === 'agent' && refusal.per === undefined))
}

/**
 * Asks for approval to spend `requestedMicros` past the cap and waits for the decision.
 * Resolves once approved; throws ApprovalDeniedError or ApprovalRequiredError otherwise.
 */
export async function awaitApproval(
  engine: Engine,
  agent: AgentRecord,
  requestedMicros: number,
  reason: string,
  signal?: AbortSignal,
): Promise<void> {
  const store = engine.store
  const now = engine.now()
  const id = `apr_${randomUUID()}`
  const waitMs = agent.policy.approvals?.waitMs ?? 0
  const { approval, created } = await storeCall(store, () =>
    store.openApproval({
      id,
      handle: agent.handle,
      requestedMicros,
      reason,
      ttlMs: APPROVAL_REQUEST_TTL_MS,
      now,
      waits: waitMs > 0,
      audit: {
        at: now,
        handle: agent.handle,
        type: 'approval',
        summary: `approval requested: $${requestedMicros / 1_000_000} past the cap (${reason})`,
        // Its id, as the decision's entry has it: requests made at once are told apart.
        data: {
          event: 'requested',
          approvalId: id,
          requested: requestedMicros / 1_000_000,
          reason,
        },
      },
    }),
  )
  if (created) {
    const event = toApprovalEvent(approval)
    engine.events.emit('approval_requested', event)
    engine.notifyApproval?.(agent, event)
  }
  const decision =
    waitMs > 0 ? await waitForDecision(engine, approval.id, waitMs, signal) : approval
  if (waitMs > 0 && decision?.status === 'pending') {
    // It stops waiting: what it added comes off the request, which then asks what the calls
    // still waiting need. Best effort: a leave that fails leaves the request asking more,
    // and the call is refused all the same.
    const leave = { id: approval.id, handle: agent.handle, requestedMicros, now: engine.now() }
    await storeCall(store, () => store.leaveApproval(leave)).catch(() => undefined)
  }
  if (decision?.status === 'approved') return
  if (decision?.status === 'denied') {
    throw new ApprovalDeniedError({
      handle: agent.handle,
      approvalId: approval.id,
      ...(decision.decisionReason === undefined ? {} : { reason: decision.decisionReason }),
    })
  }
  throw new ApprovalRequiredError({ handle: agent.handle, approvalId: approval.id })
}

async function waitForDecision(
  engine: Engine,
  id: string,
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<ApprovalRecord | undefined> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const record = await storeCall(engine.store, () => engine.store.getApproval(id, engine.now()))
    if (record?.status !== 'pending') return record
    const left = deadline - Date.now()
    if (left <= 0 || signal?.aborted) return record
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(POLL_MS, left))
      function done() {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
    })
  }
}
