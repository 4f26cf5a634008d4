// A call's budget scope at the ledger's door: the run's budget and the call's extra budgets
// (guard-types.ts BudgetScope), checked once and turned into the reserve request's fields.

import { InvalidConfigError } from './errors.js'
import type { BudgetScope } from './guard-types.js'
import { effectiveCap } from './ledger/approvals.js'
import { toMicros } from './money.js'
import type { AgentRecord, ReserveRequest } from './store.js'

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: 1 to 128 characters, letters, digits, ".", "_", ":" and "-" (got ${JSON.stringify(value)}).`,
    )
  }
  return value
}

/** The reserve fields for a call's scope; throws InvalidConfigError naming a bad field. */
export function reserveScope(scope: BudgetScope): Pick<ReserveRequest, 'budgets' | 'run'> {
  const fields: Pick<ReserveRequest, 'budgets' | 'run'> = {}
  if (scope.budgets !== undefined) {
    if (!Array.isArray(scope.budgets)) {
      throw new InvalidConfigError(
        'budgets',
        'Invalid budgets: an array of budget ids, e.g. ["customer-acme"].',
      )
    }
    fields.budgets = scope.budgets.map((id, i) => checkId(`budgets.${i}`, id))
  }
  if (scope.runCap !== undefined || scope.parentRunId !== undefined) {
    if (scope.runId === undefined) {
      throw new InvalidConfigError(
        'runId',
        'Invalid runId: runCap and parentRunId need the runId of the run they belong to.',
      )
    }
  }
  if (scope.runCap !== undefined && (!Number.isFinite(scope.runCap) || scope.runCap < 0)) {
    throw new InvalidConfigError(
      'runCap',
      `Invalid runCap: a finite number of dollars >= 0 (got ${String(scope.runCap)}).`,
    )
  }
  // A run draws on a run budget only when one is asked for (a cap, or a parent to share).
  if (
    scope.runId !== undefined &&
    (scope.runCap !== undefined || scope.parentRunId !== undefined)
  ) {
    fields.run = {
      id: checkId('runId', scope.runId),
      ...(scope.runCap === undefined ? {} : { capMicros: toMicros(scope.runCap) }),
      ...(scope.parentRunId === undefined
        ? {}
        : { parentId: checkId('parentRunId', scope.parentRunId) }),
    }
  }
  return fields
}

/** What the agent's own cap (with its live grants) leaves for a new hold; the ledger checks the rest. */
export function availableAt(agent: AgentRecord, now: number): number {
  return effectiveCap(agent, now) - agent.spentMicros - agent.heldMicros
}
