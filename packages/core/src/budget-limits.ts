// Budget limits at the API edge: `{ amount: 5, per: 'hour' }` in dollars, validated with
// zod, converted to the ledger's micro-dollars, and shown back with their live usage.

import { InvalidConfigError } from './errors.js'
import { windowKey } from './ledger/levels.js'
import { type WindowPer, windowEnd, windowStart } from './ledger/windows.js'
import { toMicros, toUsd } from './money.js'
import type { BudgetRecord, LimitRecord, Store } from './store.js'

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

/**
 * Refuses a budget's limits that add a window (a `per` it does not count yet) whose current
 * spend is not known: its usage would start at $0 and admit its limit again, though money was
 * spent inside it (red team rt40: a team's spent $1/day made $1/week let another $1 through
 * the same day). Such a window is known empty when a window the budget already counts,
 * starting no later (or no later than the budget was created), shows nothing spent or held;
 * otherwise the change is refused, naming what to do instead, as a zone change is. Changing
 * the amounts of the windows it counts (their usage is kept) is never refused.
 */
export async function refuseUncountedWindows(
  store: Store,
  budget: BudgetRecord,
  next: readonly LimitRecord[],
  now: number,
): Promise<void> {
  const { id, limits, timeZone } = budget
  const added = next.filter(({ per }) => !limits.some((limit) => limit.per === per))
  if (added.length === 0) return
  const usage = await store.readUsage(
    limits.map((limit) => windowKey('budget', id, limit, now, timeZone)),
  )
  const empty = limits.filter((_, i) => {
    const { spentMicros = 0, heldMicros = 0 } = usage[i] ?? {}
    return spentMicros + heldMicros === 0
  })
  // A window covers the new one's current stretch when it starts no later, or no later than
  // the budget's creation (then it holds all the budget ever spent).
  const uncounted = added.find(({ per }) => {
    const from = Math.max(windowStart(per, now, timeZone), budget.createdAt)
    return !empty.some((limit) => windowStart(limit.per, now, timeZone) <= from)
  })
  if (uncounted === undefined) return
  const counted = limits.map((limit) => limit.per).join(', ')
  throw new InvalidConfigError(
    'limits',
    `Invalid limits: budget "${id}" counts no ${uncounted.per} window yet, and what it spent in the current ${uncounted.per} is not known: the window would start at $0 and admit its limit again. ` +
      `Fix: create a budget with these limits (budgets.create) and move its agents to it (agents.update), or change the amounts of the windows it has (${counted}).`,
  )
}
