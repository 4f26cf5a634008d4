// The budget scope of a call (its run, the run's budget, its parent run, the shared budgets
// it draws on), from the adapter's options and from the call's own metadata
// (LangChain's `configurable.killswitch` or `metadata.killswitch`). Translation only: the core
// validates the values and holds.
import { InvalidConfigError, type ModelCallRequest } from '@killswitch/core'

/** The scope fields of every guard request (the core's `BudgetScope`). */
export type BudgetScope = Pick<ModelCallRequest, 'runId' | 'runCap' | 'parentRunId' | 'budgets'>

/** The `configurable` / `metadata` key the per-call scope is read from. */
export const SCOPE_KEY = 'killswitch'

const FIELDS = ['runId', 'runCap', 'parentRunId', 'budgets'] as const

/**
 * The options' scope with a call's own scope over it: the call's `runId`, `runCap` and
 * `parentRunId` replace the options'; its `budgets` are drawn on as well as the options'.
 * A per-call value that is not an object, or a key that is not a scope field, is refused
 * with InvalidConfigError naming it: a misspelled `budget` must not leave a customer uncapped.
 *
 * @example
 * scopeOf({ runId: 'r1' }, { budgets: ['customer-acme'] }, 'configurable.killswitch')
 * // { runId: 'r1', budgets: ['customer-acme'] }
 */
export function scopeOf(base: BudgetScope, perCall: unknown, field: string): BudgetScope {
  const scope: BudgetScope = pick(base)
  if (perCall === undefined || perCall === null) return scope
  if (typeof perCall !== 'object' || Array.isArray(perCall)) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: an object of ${FIELDS.join(', ')} (got ${typeof perCall}).`,
    )
  }
  for (const key of Object.keys(perCall)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw new InvalidConfigError(
        `${field}.${key}`,
        `Unknown ${field}.${key}: the scope fields are ${FIELDS.join(', ')}.`,
      )
    }
  }
  const call = perCall as BudgetScope
  if (call.runId !== undefined) scope.runId = call.runId
  if (call.runCap !== undefined) scope.runCap = call.runCap
  if (call.parentRunId !== undefined) scope.parentRunId = call.parentRunId
  if (call.budgets !== undefined) {
    // Not an array: passed as is, so that the core names the bad field.
    scope.budgets = Array.isArray(call.budgets)
      ? [...new Set([...(scope.budgets ?? []), ...call.budgets])]
      : call.budgets
  }
  return scope
}

/** Only the scope fields of an options object (the rest is not the guard's business). */
export function pick(options: BudgetScope): BudgetScope {
  const scope: BudgetScope = {}
  if (options.runId !== undefined) scope.runId = options.runId
  if (options.runCap !== undefined) scope.runCap = options.runCap
  if (options.parentRunId !== undefined) scope.parentRunId = options.parentRunId
  if (options.budgets !== undefined) scope.budgets = options.budgets
  return scope
}
