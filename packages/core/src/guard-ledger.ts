// The ledger operations of a guard: hold, settle and release, each one atomic store call that
// carries its audit entry, followed by its event. Returns the fresh agent record, which the
// guard keeps as its best knowledge of the agent.
import type { AuditEntry } from './audit.js'
import { type Engine, storeCall } from './engine.js'
import type { KillSwitchEvents } from './events.js'
import { settlementOf } from './guard-tickets.js'
import type { Settlement } from './guard-types.js'
import { toUsd } from './money.js'
import type { ActivityBatch, AgentRecord, ReserveRequest, ReserveResult } from './store.js'

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
 * `base` with the fields of `data` that are not undefined: the audit data of a ledger entry,
 * whose callers leave out what does not apply (undefined) without a spread per option.
 */
function withDefined(
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
export async function holdFunds(
  engine: Engine,
  hold: {
    handle: string
    holdId: string
    amountMicros: number
    ttlMs: number
    kind: string
    summary: string
    data: Record<string, unknown>
    /** The run's budget and the call's extra budgets, held in the same reserve. */
    scope?: Pick<ReserveRequest, 'budgets' | 'run'>
    /** Runaway activity written by the same reserve, only if it is granted. */
    activity?: ActivityBatch | undefined
  },
): Promise<ReserveResult> {
  const now = engine.now()
  const request: ReserveRequest = {
    handle: hold.handle,
    holdId: hold.holdId,
    amountMicros: hold.amountMicros,
    ttlMs: hold.ttlMs,
    now,
    audit: auditEntry(
      hold.handle,
      'hold',
      now,
      hold.summary,
      withDefined(
        { holdId: hold.holdId, kind: hold.kind, amount: toUsd(hold.amountMicros) },
        hold.data,
      ),
    ),
  }
  // Set only when present: a store reads a key's presence (and Redis sends what it gets).
  const scope = hold.scope
  if (scope?.budgets !== undefined) request.budgets = scope.budgets
  if (scope?.run !== undefined) request.run = scope.run
  if (hold.activity) request.activity = hold.activity
  const result = await storeCall(engine.store, () => engine.store.reserve(request))
  if (result.ok) {
    emit(engine, 'reserved', {
      handle: hold.handle,
      holdId: hold.holdId,
      amount: toUsd(hold.amountMicros),
      kind: hold.kind,
    })
  }
  return result
}

/** Settles a hold at its real cost (idempotent per hold id) and fires threshold alerts. */
export async function settleFunds(
  engine: Engine,
  settle: {
    handle: string
    holdId: string
    costMicros: number
    kind: string
    summary: string
    data: Record<string, unknown>
  },
): Promise<{ settlement: Settlement; agent: AgentRecord }> {
  const now = engine.now()
  const { handle, holdId, costMicros, kind } = settle
  const result = await engine.outbox.deliver(() =>
    storeCall(engine.store, () =>
      engine.store.settle({
        handle,
        holdId,
        costMicros,
        now,
        audit: auditEntry(
          handle,
          'settled',
          now,
          settle.summary,
          withDefined({ holdId, kind, cost: toUsd(costMicros) }, settle.data),
        ),
      }),
    ),
  )
  if (result.outcome !== 'duplicate') {
    const model = settle.data.model
    emit(engine, 'settled', {
      handle,
      holdId,
      kind,
      cost: toUsd(costMicros),
      spent: toUsd(result.agent.spentMicros),
      spendingCap: toUsd(result.agent.capMicros),
      ...(typeof model === 'string' ? { model } : {}),
    })
    engine.afterSpend(result.agent)
  }
  return { settlement: settlementOf(costMicros, result.agent), agent: result.agent }
}

/** Releases a hold without spending (idempotent per hold id). */
export async function releaseFunds(
  engine: Engine,
  release: {
    handle: string
    holdId: string
    kind: string
    reason: string
    data: Record<string, unknown>
  },
): Promise<AgentRecord> {
  const now = engine.now()
  const { handle, holdId, kind, reason } = release
  const result = await engine.outbox.deliver(() =>
    storeCall(engine.store, () =>
      engine.store.release({
        handle,
        holdId,
        now,
        audit: auditEntry(handle, 'released', now, `released hold (${reason})`, {
          holdId,
          kind,
          reason,
          ...release.data,
        }),
      }),
    ),
  )
  if (result.outcome === 'released') emit(engine, 'released', { handle, holdId, kind, reason })
  return result.agent
}

/**
 * Extends a live hold's lease by `ttlMs` from now (the store's clock). False when the hold
 * is no longer live: it was settled, released, or lapsed (and was charged).
 */
export async function renewHold(
  engine: Engine,
  renew: { handle: string; holdId: string; ttlMs?: number },
): Promise<boolean> {
  const now = engine.now()
  const result = await storeCall(engine.store, () =>
    engine.store.renew({
      handle: renew.handle,
      holdId: renew.holdId,
      ttlMs: renew.ttlMs ?? engine.holdTtlMs,
      now,
    }),
  )
  return result.renewed
}
