// The levels a reservation holds against, besides the agent's lifetime cap: the agent's own
// windows, each budget it draws on (its shared budgets, the call's extra budgets, its run's
// budget and that run's ancestors), and each of their windows. Every level is named by a
// window key, `agent:<handle>/<per>@<start>` or `budget:<id>/<per>@<start>`, so a hold
// remembers exactly which windows it was taken in, and its settlement lands there even
// after the windows have rolled over.
import type { AgentRecord, BudgetRecord, LevelRefusal, LimitRecord } from '../store.js'
import { windowEnd, windowStart } from './windows.js'

/** One level of a reservation: a window key, its limit, and how to name it in a refusal. */
export interface Level {
  key: string
  limitMicros: number
  refusal: Omit<LevelRefusal, 'spentMicros' | 'heldMicros'>
}

const RUN_PREFIX = 'run:'

/** The budget id of a run (the guard keys run ids by their agent: reserve-scope.ts ownRuns). */
export const runBudgetId = (runId: string) => `${RUN_PREFIX}${runId}`

/** Run trees are bounded: a parent chain longer than this is refused as a cycle. */
export const MAX_RUN_DEPTH = 64

export function windowKey(
  scope: 'agent' | 'budget',
  id: string,
  limit: LimitRecord,
  now: number,
  timeZone?: string,
): string {
  return `${scope}:${id}/${limit.per}@${windowStart(limit.per, now, timeZone)}`
}

function levelsOf(
  scope: 'agent' | 'budget',
  id: string,
  limits: readonly LimitRecord[],
  now: number,
  timeZone?: string,
): Level[] {
  return limits.map((limit) => ({
    key: windowKey(scope, id, limit, now, timeZone),
    limitMicros: limit.amountMicros,
    refusal: {
      level: scope,
      ...(scope === 'budget' ? { budgetId: id } : {}),
      per: limit.per,
      ...(limit.per === 'lifetime' ? {} : { resetsAt: windowEnd(limit.per, now, timeZone) }),
      limitMicros: limit.amountMicros,
    },
  }))
}

/**
 * Every window level of a reservation at `now`. A budget that does not exist yields a
 * level with limit 0: a call that names a missing budget is refused, never let through.
 * A run's budget is the exception: it exists once a call of the run gave it a cap or a
 * parent, so a parent run that has none yet (its calls set no cap) limits nothing.
 */
export function collectLevels(
  agent: AgentRecord,
  budgetIds: readonly string[],
  budget: (id: string) => BudgetRecord | undefined,
  now: number,
): Level[] {
  // Most agents have no windows and no budgets: nothing to collect on the hot path.
  if (agent.limits.length === 0 && budgetIds.length === 0) return []
  const levels = levelsOf('agent', agent.handle, agent.limits, now)
  const seen = new Set<string>()
  const visit = (id: string, depth: number) => {
    if (seen.has(id)) return
    seen.add(id)
    const record = budget(id)
    if (!record && depth <= MAX_RUN_DEPTH && id.startsWith(RUN_PREFIX)) return
    if (!record || depth > MAX_RUN_DEPTH) {
      levels.push({
        key: `budget:${id}/lifetime@0`,
        limitMicros: 0,
        refusal: { level: 'budget', budgetId: id, per: 'lifetime', limitMicros: 0 },
      })
      return
    }
    levels.push(...levelsOf('budget', id, record.limits, now, record.timeZone))
    if (record.parentId !== undefined) visit(record.parentId, depth + 1)
  }
  for (const id of budgetIds) visit(id, 0)
  return levels
}
