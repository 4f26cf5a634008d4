// The shared budgets behind an agent's tightest level, for the console: their windows' figures
// (a bar each, from `ks.budgets.list()`), the grants that lift its cap, and the binding level
// in words. Which level binds, and what it leaves, is the core's reading (`AgentSnapshot`'s
// `available` and `limitedBy`, as `ks.verify` answers): never decided again here.

import type { AgentSnapshot, BudgetSnapshot, WindowPer } from '@killswitch/core'
import type { AdminKillSwitch, LimitView } from '../admin-kill-switch.js'

/** The level that leaves an agent least to spend, as `ks.verify` names it. */
export interface Binding {
  level: 'agent' | 'budget'
  /** The shared budget, when `level` is `'budget'`. */
  budgetId?: string
  /** The window; absent for the agent's cap. */
  per?: WindowPer
  /** When that window resets (ISO 8601); absent for the cap and lifetime limits. */
  resetsAt?: string
}

/** The shared budgets agents draw on, by id, with their windows' live figures. */
export type BudgetsById = ReadonlyMap<string, BudgetSnapshot>

const NO_BUDGETS: BudgetsById = new Map()

/**
 * The budgets `agents` draw on. One `ks.budgets.list()` (a single usage read for every
 * budget) and none at all when no agent names a budget, which keeps a fleet of plain capped
 * agents as cheap to poll as before.
 */
export async function readBudgets(
  ks: Pick<AdminKillSwitch, 'budgets'>,
  agents: readonly AgentSnapshot[],
): Promise<BudgetsById> {
  if (!agents.some((agent) => agent.budgets.length > 0)) return NO_BUDGETS
  return new Map((await ks.budgets.list()).map((budget) => [budget.id, budget]))
}

// The ledger holds a call that names a budget that does not exist against a limit of 0, so
// it is refused: shown the same way, never as no limit at all.
const MISSING: LimitView = { amount: 0, per: 'lifetime', spent: 0, held: 0, available: 0 }

/** A budget's windows, or the ledger's limit of 0 for one that does not exist. */
export function budgetWindows(budgets: BudgetsById, id: string): readonly LimitView[] {
  return budgets.get(id)?.limits ?? [MISSING]
}

/**
 * The binding level in words: `its cap`, `its per hour window`, `budget team-a, per day`;
 * `grantedText` names the grants that lift the cap (`its cap, with $2.00 granted past it`).
 */
export function bindingText(binding: Binding, budgets: BudgetsById, grantedText?: string): string {
  const per =
    binding.per === undefined ? '' : binding.per === 'lifetime' ? 'lifetime' : `per ${binding.per}`
  if (binding.level === 'agent' && binding.per === undefined) {
    return grantedText === undefined ? 'its cap' : `its cap, with ${grantedText} granted past it`
  }
  if (binding.level === 'agent') {
    return `its ${per === 'lifetime' ? 'lifetime limit' : `${per} window`}`
  }
  const id = binding.budgetId ?? ''
  return budgets.has(id) ? `budget ${id}, ${per}` : `budget ${id} (not found)`
}
