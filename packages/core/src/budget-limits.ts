// Budget limits at the API edge: `{ amount: 5, per: 'hour' }` in dollars, validated with
// zod, converted to the ledger's micro-dollars, and shown back with their live usage.
import { windowKey } from './ledger/levels.js'
import { type WindowPer, windowEnd } from './ledger/windows.js'
import { toMicros, toUsd } from './money.js'
import type { LimitRecord, Store } from './store.js'

/** A spending limit over a window, in dollars. */
export interface Limit {
  amount: number
  per: WindowPer
}

/** A limit with its window's live figures, in dollars. */
export interface LimitUsage extends Limit {
  spent: number
  held: number
  /** What a new call can still hold in this window (never below 0). */
  available: number
  /** When this window resets (ISO time); absent for `lifetime`. */
  resetsAt?: string
}

export const toLimitRecords = (limits: readonly Limit[]): LimitRecord[] =>
  limits.map((limit) => ({ amountMicros: toMicros(limit.amount), per: limit.per }))

/**
 * Each limit with its current window's spent, held and available, read in one store call.
 * `scope` and `id` name the level as ledger/levels.ts does.
 */
export async function limitsWithUsage(
  store: Store,
  scopes: ReadonlyArray<{
    scope: 'agent' | 'budget'
    id: string
    limits: readonly LimitRecord[]
    timeZone?: string
  }>,
  now: number,
): Promise<LimitUsage[][]> {
  const keys = scopes.flatMap(({ scope, id, limits, timeZone }) =>
    limits.map((limit) => windowKey(scope, id, limit, now, timeZone)),
  )
  const usage = keys.length > 0 ? await store.readUsage(keys) : []
  let next = 0
  return scopes.map(({ limits, timeZone }) =>
    limits.map((limit) => {
      const { spentMicros, heldMicros } = usage[next++] ?? { spentMicros: 0, heldMicros: 0 }
      const resetsAt = windowEnd(limit.per, now, timeZone)
      return {
        amount: toUsd(limit.amountMicros),
        per: limit.per,
        spent: toUsd(spentMicros),
        held: toUsd(heldMicros),
        available: toUsd(Math.max(0, limit.amountMicros - spentMicros - heldMicros)),
        ...(resetsAt === undefined ? {} : { resetsAt: new Date(resetsAt).toISOString() }),
      }
    }),
  )
}
