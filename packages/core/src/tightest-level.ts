// Which of an agent's levels leaves it least to spend: its cap (with the grants approved past
// it), its own windows, and each shared budget's windows. The one reading of "has this agent
// anything left" for `verify` (a service's check at its edge) and a guard's
// `check({ requireBudget })`. Neither holds anything: the reserve decides atomically, in the
// ledger, when a call really spends.
import type { Awaitable } from './awaitable.js'
import { effectiveCap } from './ledger/approvals.js'
import { windowKey } from './ledger/levels.js'
import { windowEnd } from './ledger/windows.js'
import type { AgentRecord, LevelRefusal, LimitRecord, Store } from './store.js'

/** The level that leaves the least, and how much it leaves (below 0 when overdrawn). */
export interface TightestLevel {
  level: LevelRefusal
  leftMicros: number
}

interface Window {
  level: LevelRefusal['level']
  id: string
  limit: LimitRecord
  timeZone: string | undefined
}

/**
 * The agent's tightest level now; the agent's own when levels tie. Answered at once, without
 * a store read, for an agent with no windows and no shared budgets.
 *
 * @example
 * const { level, leftMicros } = await tightestLevel(store, agent, now)
 */
export function tightestLevel(
  store: Store,
  agent: AgentRecord,
  now: number,
): Awaitable<TightestLevel> {
  const capMicros = effectiveCap(agent, now)
  const own: TightestLevel = {
    level: {
      level: 'agent',
      limitMicros: capMicros,
      spentMicros: agent.spentMicros,
      heldMicros: agent.heldMicros,
    },
    leftMicros: capMicros - agent.spentMicros - agent.heldMicros,
  }
  if (agent.limits.length === 0 && agent.budgets.length === 0) return own
  return withWindows(store, agent, now, own)
}

/** The tightest of `own` and the agent's windows and its budgets' windows (one usage read). */
async function withWindows(
  store: Store,
  agent: AgentRecord,
  now: number,
  own: TightestLevel,
): Promise<TightestLevel> {
  let tightest = own
  const budgets = await Promise.all(agent.budgets.map((id) => store.getBudget(id)))
  const windows: Window[] = [
    ...agent.limits.map((limit) => ({
      level: 'agent' as const,
      id: agent.handle,
      limit,
      timeZone: undefined,
    })),
    ...budgets.flatMap((budget) =>
      budget === undefined
        ? []
        : budget.limits.map((limit) => ({
            level: 'budget' as const,
            id: budget.id,
            limit,
            timeZone: budget.timeZone,
          })),
    ),
  ]
  if (windows.length === 0) return tightest
  const usage = await store.readUsage(
    windows.map((window) => windowKey(window.level, window.id, window.limit, now, window.timeZone)),
  )
  windows.forEach((window, index) => {
    const { spentMicros, heldMicros } = usage[index] ?? { spentMicros: 0, heldMicros: 0 }
    const leftMicros = window.limit.amountMicros - spentMicros - heldMicros
    if (leftMicros >= tightest.leftMicros) return
    const resetsAt = windowEnd(window.limit.per, now, window.timeZone)
    tightest = {
      level: {
        level: window.level,
        ...(window.level === 'budget' ? { budgetId: window.id } : {}),
        per: window.limit.per,
        ...(resetsAt === undefined ? {} : { resetsAt }),
        limitMicros: window.limit.amountMicros,
        spentMicros,
        heldMicros,
      },
      leftMicros,
    }
  })
  return tightest
}

/**
 * True when nothing is left and no person can be asked. An agent with approvals on asks a
 * person past its own cap or windows (a shared budget's are never approved past), so it is
 * not out of budget there: its next call asks.
 *
 * @example
 * if (outOfBudget(tightest.leftMicros, tightest.level.level, approvalsOn(agent))) refuse()
 */
export function outOfBudget(
  left: number,
  level: LevelRefusal['level'],
  approvals: boolean,
): boolean {
  return left <= 0 && !(approvals && level === 'agent')
}
