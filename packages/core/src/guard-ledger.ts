// The ledger operations of a guard: hold, settle and release, each one atomic store call that
// carries its audit entry, followed by its event. Returns the fresh agent record, which the
// guard keeps as its best knowledge of the agent: at once when the store answered at once
// (awaitable.ts), else as a promise.

import type { AuditEntry } from './audit.js'
import { type Awaitable, andThen, isPromiseLike } from './awaitable.js'
import { type Engine, storeCall } from './engine.js'
import { KillSwitchError } from './errors.js'
import type { KillSwitchEvents } from './events.js'
import { settlementOf } from './guard-tickets.js'
import type { Settlement } from './guard-types.js'
import { toUsd } from './money.js'
import type {
  ActivityBatch,
  AgentRecord,
  RenewResult,
  ReserveRequest,
  ReserveResult,
} from './store.js'

export function auditEntry(
  handle: string,
  type: AuditEntry['type'],
  at: number,
  summary: string,
  data: Record<string, unknown>,
): AuditEntry {
  return { at, handle, type, summary, data }
}

/**
 * `base` with the fields of `data` that are not undefined: audit data from fields a caller
 * may leave undefined (a spend's details). The model path builds its data whole instead:
 * this loop's keyed stores cost more than the rest of the entry on every call.
 */
export function withDefined(
  base: Record<string, unknown>,
  data: Record<string, unknown>,
): Record<string, unknown> {
  for (const key in data) {
    const value = data[key]
    if (value !== undefined) base[key] = value
  }
  return base
}

export function emit<Name extends keyof KillSwitchEvents>(
  engine: Engine,
  name: Name,
  event: KillSwitchEvents[Name],
): void {
  if (engine.events.has(name)) engine.events.emit(name, event)
}

/** Holds `amountMicros` for a lease of `ttlMs`; the audit entry is written only if granted. */
export function holdFunds(
  engine: Engine,
  hold: {
    handle: string
    holdId: string
    amountMicros: number
    ttlMs: number
    kind: string
    /** What it is for (a model id, a spend's description): named if it lapses. */
    label: string
    summary: string
    /** The audit entry's data, whole (holdId, kind and amount first), no field undefined. */
    data: Record<string, unknown>
    /** The run's budget and the call's extra budgets, held in the same reserve. */
    scope?: Pick<ReserveRequest, 'budgets' | 'run'>
    /** Runaway activity written by the same reserve, only if it is granted. */
    activity?: ActivityBatch | undefined
  },
): Awaitable<ReserveResult> {
  const now = engine.now()
  const request: ReserveRequest = {
    handle: hold.handle,
    holdId: hold.holdId,
    amountMicros: hold.amountMicros,
    ttlMs: hold.ttlMs,
    now,
    audit: auditEntry(hold.handle, 'hold', now, hold.summary, hold.data),
    label: hold.label,
  }
  // Set only when present: a store reads a key's presence (and Redis sends what it gets).
  const scope = hold.scope
  if (scope?.budgets !== undefined) request.budgets = scope.budgets
  if (scope?.run !== undefined) request.run = scope.run
  if (hold.activity) request.activity = hold.activity
  const granted = (result: ReserveResult): ReserveResult => {
    // The event is built only when someone listens: most kill switches have no listener.
    if (result.ok && engine.events.has('reserved')) {
      emit(engine, 'reserved', {
        handle: hold.handle,
        holdId: hold.holdId,
        amount: toUsd(hold.amountMicros),
        kind: hold.kind,
      })
    }
    // The reserve's sweep may have charged a lapsed hold: its spend crosses thresholds too.
    const agent = result.agent
    if (agent !== undefined && agent.unreconciledMicros > 0) engine.afterSpend(agent)
    return result
  }
  const answer = storeCall(engine.store, () => engine.store.reserve(request))
  // A store that answered at once answered (store.ts): only a promise can go unanswered.
  if (!isPromiseLike(answer)) return granted(answer)
  return Promise.resolve(answer).then(granted, (error: unknown) => {
    if (isStoreUnavailable(error)) releaseUnanswered(engine, hold)
    throw error
  })
}

function isStoreUnavailable(error: unknown): boolean {
  return KillSwitchError.isInstance(error) && error.code === 'store_unavailable'
}

/**
 * Releases the hold of a reserve the store did not answer (a timeout, a dropped
 * connection). The reserve may still run there (a stalled server catching up, a command an
 * old connection delivered late), and its hold would then lapse and be charged as spend, for
 * a call that was refused and so never sent. Delivered through the outbox, retried until the
 * store answers; idempotent, and a release that lands before its reserve leaves the id ended,
 * so that reserve holds nothing (ledger.ts).
 */
function releaseUnanswered(engine: Engine, hold: Parameters<typeof holdFunds>[1]): void {
  try {
    const released = releaseFunds(engine, {
      handle: hold.handle,
      holdId: hold.holdId,
      kind: hold.kind,
      reason: 'not sent: the store did not answer its reserve',
      data: hold.data,
    })
    // The caller hears the reserve's error; an outage here is the outbox's to retry.
    if (isPromiseLike(released)) Promise.resolve(released).catch(() => {})
  } catch {
    // Only the reserve's error is the caller's.
  }
}

/** Settles a hold at its real cost (idempotent per hold id) and fires threshold alerts. */
export function settleFunds(
  engine: Engine,
  settle: {
    handle: string
    holdId: string
    costMicros: number
    kind: string
    summary: string
    /** The audit entry's data, whole (holdId, kind and cost first), no field undefined. */
    data: Record<string, unknown>
    /** The cost is a bound (an outcome unknown): charged as unreconciled, correctable. */
    unreconciled?: boolean
  },
): Awaitable<{ settlement: Settlement; agent: AgentRecord }> {
  const now = engine.now()
  const { handle, holdId, costMicros } = settle
  const delivered = engine.outbox.deliver(() =>
    storeCall(engine.store, () =>
      engine.store.settle({
        handle,
        holdId,
        costMicros,
        now,
        audit: auditEntry(handle, 'settled', now, settle.summary, settle.data),
        ...(settle.unreconciled === true && { unreconciled: true }),
      }),
    ),
  )
  return andThen(delivered, (result) => {
    if (result.outcome !== 'duplicate') afterSettle(engine, settle, result.agent)
    return { settlement: settlementOf(costMicros, result.agent), agent: result.agent }
  })
}

/** A settlement's event and threshold alerts. */
function afterSettle(
  engine: Engine,
  settle: Parameters<typeof settleFunds>[1],
  agent: AgentRecord,
): void {
  if (engine.events.has('settled')) {
    const { handle, holdId, costMicros, kind } = settle
    const model = settle.data.model
    emit(engine, 'settled', {
      handle,
      holdId,
      kind,
      cost: toUsd(costMicros),
      spent: toUsd(agent.spentMicros),
      spendingCap: toUsd(agent.capMicros),
      ...(typeof model === 'string' ? { model } : {}),
    })
  }
  engine.afterSpend(agent)
}

/** Releases a hold without spending (idempotent per hold id). */
export function releaseFunds(
  engine: Engine,
  release: {
    handle: string
    holdId: string
    kind: string
    reason: string
    data: Record<string, unknown>
    /** The audit summary, when the spend tells more than `released hold (<reason>)`. */
    summary?: string | undefined
  },
): Awaitable<AgentRecord> {
  const now = engine.now()
  const { handle, holdId, kind, reason, summary = `released hold (${reason})` } = release
  const delivered = engine.outbox.deliver(() =>
    storeCall(engine.store, () =>
      engine.store.release({
        handle,
        holdId,
        now,
        audit: auditEntry(handle, 'released', now, summary, {
          holdId,
          kind,
          reason,
          ...release.data,
        }),
      }),
    ),
  )
  return andThen(delivered, (result) => {
    if (result.outcome === 'released') emit(engine, 'released', { handle, holdId, kind, reason })
    return result.agent
  })
}

/**
 * Extends a live hold's lease by `ttlMs` from now (the store's clock). False when the hold
 * is no longer live: it was settled, released, or lapsed (and was charged).
 */
export async function renewHold(
  engine: Engine,
  renew: { handle: string; holdId: string; ttlMs?: number },
): Promise<RenewResult> {
  const now = engine.now()
  const result = await storeCall(engine.store, () =>
    engine.store.renew({
      handle: renew.handle,
      holdId: renew.holdId,
      ttlMs: renew.ttlMs ?? engine.holdTtlMs,
      now,
    }),
  )
  return result
}
