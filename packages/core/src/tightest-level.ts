// Which of an agent's levels leaves it least to spend: its cap (with the grants approved past
// it), its own windows, and each shared budget's windows. The one reading of "has this agent
// anything left" for `verify` (a service's check at its edge) and a guard's
// `check({ requireBudget })`. Neither holds anything: the reserve decides atomically, in the
// ledger, when a call really spends.

import { asksPerson } from './approval-gate.js'
import type { Awaitable } from './awaitable.js'
import { effectiveCap } from './ledger/approvals.js'
import { runBudgetFor } from './ledger/ledger.js'
import { collectLevels, type Level, MAX_RUN_DEPTH, runBudgetId } from './ledger/levels.js'
import type { WindowPer } from './ledger/windows.js'
import type { AgentRecord, BudgetRecord, LevelRefusal, ReserveRequest, Store } from './store.js'

/** The level that leaves the least, and how much it leaves (below 0 when overdrawn). */
export interface TightestLevel {
  level: LevelRefusal
  leftMicros: number
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
  const own = ownLevel(agent, now)
  if (!hasWindows(agent)) return own
  return windowsLeft(store, [agent], now).then(([windows]) => tightestOf(own, windows ?? []))
}

/**
 * The tightest level of each agent, as `tightestLevel` answers it, with one read of the
 * budgets they draw on and one usage read for all of them (a list of agents, not a store
 * round trip per agent).
 *
 * @example
 * const levels = await tightestLevels(store, await store.listAgents(now), now)
 */
export async function tightestLevels(
  store: Store,
  agents: readonly AgentRecord[],
  now: number,
): Promise<TightestLevel[]> {
  const windows = await windowsLeft(store, agents, now)
  return agents.map((agent, i) => tightestOf(ownLevel(agent, now), windows[i] ?? []))
}

/** The agent's cap, with the grants approved past it. */
function ownLevel(agent: AgentRecord, now: number): TightestLevel {
  const capMicros = effectiveCap(agent, now)
  return {
    level: {
      level: 'agent',
      limitMicros: capMicros,
      spentMicros: agent.spentMicros,
      heldMicros: agent.heldMicros,
    },
    leftMicros: capMicros - agent.spentMicros - agent.heldMicros,
  }
}

const hasWindows = (agent: AgentRecord) => agent.limits.length > 0 || agent.budgets.length > 0

/**
 * Each window and budget level a reserve of each agent holds against, and what it leaves:
 * the ledger's own `collectLevels` (its windows, its budgets' windows and their parents', a
 * missing budget as a limit of 0), the budgets read once and the usage in one call.
 */
async function windowsLeft(
  store: Store,
  agents: readonly AgentRecord[],
  now: number,
): Promise<TightestLevel[][]> {
  if (!agents.some(hasWindows)) return agents.map(() => [])
  const budgets = await budgetsOf(
    store,
    agents.flatMap((agent) => agent.budgets),
  )
  const levels = agents.map((agent) =>
    hasWindows(agent) ? collectLevels(agent, agent.budgets, (id) => budgets.get(id), now) : [],
  )
  return levelsLeft(store, levels)
}

/** What each level leaves, the usage of all of them read in one call. */
async function levelsLeft(store: Store, levels: readonly Level[][]): Promise<TightestLevel[][]> {
  const keys = levels.flat().map((level) => level.key)
  const usage = keys.length > 0 ? await store.readUsage(keys) : []
  let next = 0
  return levels.map((each) =>
    each.map((level) => {
      const { spentMicros, heldMicros } = usage[next++] ?? { spentMicros: 0, heldMicros: 0 }
      const leftMicros = level.limitMicros - spentMicros - heldMicros
      return { level: { ...level.refusal, spentMicros, heldMicros }, leftMicros }
    }),
  )
}

/** The tightest of `own` and the agent's windows and budgets. */
function tightestOf(own: TightestLevel, windows: readonly TightestLevel[]): TightestLevel {
  let tightest = own
  for (const candidate of windows) {
    // Spent out both, a window or budget binds rather than the cap: a grant lifts only the cap.
    const outAlike = candidate.leftMicros <= 0 && tightest === own && own.leftMicros <= 0
    if (candidate.leftMicros < tightest.leftMicros || outAlike) tightest = candidate
  }
  return tightest
}

/**
 * The first level besides the cap that cannot hold `amountMicros` now, if any: the agent's
 * windows and shared budgets, and the call's own (`scope`: its budgets, its run and the
 * run's parents, a new run's cap as the reserve would make it). Past the cap, a person's
 * grant would not lift it, so nobody is asked for one.
 *
 * @example
 * const binding = await windowRefusing(store, agent, now, needed, scope)
 * if (binding) refuse(binding) // else ask a person to approve past the cap
 */
export async function windowRefusing(
  store: Store,
  agent: AgentRecord,
  now: number,
  amountMicros: number,
  scope: Pick<ReserveRequest, 'budgets' | 'run'> = {},
): Promise<LevelRefusal | undefined> {
  const run = scope.run
  const runId = run === undefined ? undefined : runBudgetId(run.id)
  const ids = [...agent.budgets, ...(scope.budgets ?? []), ...(runId === undefined ? [] : [runId])]
  const budgets = await budgetsOf(store, ids)
  if (run !== undefined && runId !== undefined) {
    // As the reserve holds it: made if new (with its parents read), never above the call's cap.
    const stored = budgets.get(runId)
    const { budget } = runBudgetFor(stored, run, now)
    budgets.set(runId, budget)
    if (!stored && budget.parentId !== undefined) {
      for (const [id, record] of await budgetsOf(store, [budget.parentId])) budgets.set(id, record)
    }
  }
  const [left = []] = await levelsLeft(store, [
    collectLevels(agent, ids, (id) => budgets.get(id), now),
  ])
  return left.find((candidate) => candidate.leftMicros < amountMicros)?.level
}

/** The budgets `ids` names and their parents, read as collectLevels will ask for them. */
async function budgetsOf(store: Store, ids: readonly string[]): Promise<Map<string, BudgetRecord>> {
  const found = new Map<string, BudgetRecord>()
  let next = [...new Set(ids)]
  for (let depth = 0; next.length > 0 && depth <= MAX_RUN_DEPTH; depth++) {
    const records = await Promise.all(next.map((id) => store.getBudget(id)))
    next = []
    for (const record of records) {
      if (record === undefined) continue
      found.set(record.id, record)
      const parent = record.parentId
      if (parent !== undefined && !found.has(parent)) next.push(parent)
    }
  }
  return found
}

/**
 * True when nothing is left and no person can be asked. An agent with approvals on asks a
 * person past its own spending cap (`asksPerson`), so it is not out of budget there: its
 * next call asks.
 *
 * @example
 * if (outOfBudget(tightest.leftMicros, tightest.level, approvalsOn(agent))) refuse()
 */
export function outOfBudget(
  left: number,
  level: Pick<LevelRefusal, 'level' | 'per'>,
  approvals: boolean,
): boolean {
  return left <= 0 && !asksPerson(approvals, level)
}

/** The level that binds, as `verify` and agent snapshots name it. */
export interface Binding {
  /** Which level leaves the least: the agent's own (its cap or a window) or a shared budget's. */
  limitedBy: 'agent' | 'budget'
  /** The shared budget that binds, when `limitedBy` is `'budget'`. */
  budgetId?: string
  /** The window that binds (`'hour'`, `'day'`, `'lifetime'`...); absent for the agent's cap. */
  per?: WindowPer
  /** When that window resets (ISO 8601); absent for a lifetime limit. */
  resetsAt?: string
}

/**
 * The public naming of a tightest level.
 *
 * @example
 * bindingOf(tightest.level) // { limitedBy: 'budget', budgetId: 'team-a', per: 'day', resetsAt: '...' }
 */
export function bindingOf({ level, budgetId, per, resetsAt }: LevelRefusal): Binding {
  return {
    limitedBy: level,
    ...(budgetId === undefined ? {} : { budgetId }),
    ...(per === undefined ? {} : { per }),
    ...(resetsAt === undefined ? {} : { resetsAt: new Date(resetsAt).toISOString() }),
  }
}
