// A call's budget scope at the ledger's door: the run's budget and the call's extra budgets
// (guard-types.ts BudgetScope), checked once and turned into the reserve request's fields.

import { handleSchema, spendingCapSchema } from './config.js'
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

/**
 * A shared budget a call draws on, named as budgets are (`budgets.create`): no ":", so no
 * call names a run's internal budget (`run:<agent>:<runId>`) and draws another agent's run
 * down (red team rt40: a rogue agent spent a victim's run cap and shut its run off).
 */
function checkBudgetId(field: string, value: unknown): string {
  if (!handleSchema.safeParse(value).success) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: a shared budget's id (budgets.create), 1 to 64 characters, letters, digits, ".", "_" and "-" (got ${JSON.stringify(value)}). A run's own budget is given by runId and runCap, not named here.`,
    )
  }
  return value as string
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
    fields.budgets = scope.budgets.map((id, i) => checkBudgetId(`budgets.${i}`, id))
  }
  // Checked whether or not it draws on a run budget: it is written to the audit log and keys
  // the runaway detectors' runs (a number, an object or 5,000 characters were taken as given).
  if (scope.runId !== undefined) checkId('runId', scope.runId)
  if (scope.runCap !== undefined || scope.parentRunId !== undefined) {
    if (scope.runId === undefined) {
      throw new InvalidConfigError(
        'runId',
        'Invalid runId: runCap and parentRunId need the runId of the run they belong to.',
      )
    }
  }
  if (scope.runCap !== undefined) {
    // The cap schema's bounds, under the field's own name: the ledger counts micro-dollars.
    const checked = spendingCapSchema.safeParse(scope.runCap)
    if (!checked.success) {
      const why =
        typeof scope.runCap === 'number'
          ? (checked.error.issues[0]?.message ?? 'a finite number of dollars >= 0')
          : 'a finite number of dollars >= 0 is required (e.g. runCap: 2)'
      throw new InvalidConfigError(
        'runCap',
        `Invalid runCap: ${why} (got ${String(scope.runCap)}).`,
      )
    }
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

/**
 * The scope's run ids as the ledger keys them: the agent's own (`<handle>:<runId>`). A run
 * id is the caller's name, and two agents may use the same one (a framework's run counter,
 * a workflow id): keyed by id alone, one agent's spend would draw on the other's run cap,
 * and one agent could shut another's run off by naming it with a small cap.
 */
export function ownRuns(
  scope: Pick<ReserveRequest, 'budgets' | 'run'>,
  handle: string,
): Pick<ReserveRequest, 'budgets' | 'run'> {
  const run = scope.run
  if (run === undefined) return scope
  const parentId = run.parentId === undefined ? {} : { parentId: `${handle}:${run.parentId}` }
  return { ...scope, run: { ...run, id: `${handle}:${run.id}`, ...parentId } }
}

/** A run's name in a refusal: the caller's id, without the agent the ledger keys it by. */
export function runName(budgetId: string): string {
  const id = budgetId.slice('run:'.length)
  return id.slice(id.indexOf(':') + 1)
}

/** The key under which adapters read a call's own scope from its framework metadata. */
export const BUDGET_SCOPE_KEY = 'killswitch'

const SCOPE_FIELDS = ['runId', 'runCap', 'parentRunId', 'budgets'] as const

/** Only the scope fields of an options object (the rest is not the guard's business). */
export function pickBudgetScope(options: BudgetScope): BudgetScope {
  const scope: BudgetScope = {}
  if (options.runId !== undefined) scope.runId = options.runId
  if (options.runCap !== undefined) scope.runCap = options.runCap
  if (options.parentRunId !== undefined) scope.parentRunId = options.parentRunId
  if (options.budgets !== undefined) scope.budgets = options.budgets
  return scope
}

/**
 * An adapter's scope with a call's own scope over it (the one rule every adapter uses):
 * the call's `runId`, `runCap` and `parentRunId` replace the options'; its `budgets` are
 * drawn on as well as the options'. A per-call value that is not an object, or a key that
 * is not a scope field, is refused with InvalidConfigError naming it (`field`): a
 * misspelled `budget` must not leave a customer uncapped. Values are checked at the reserve.
 *
 * @example
 * mergeBudgetScope({ runId: 'r1' }, { budgets: ['customer-acme'] }, 'providerOptions.killswitch')
 * // { runId: 'r1', budgets: ['customer-acme'] }
 */
export function mergeBudgetScope(base: BudgetScope, perCall: unknown, field: string): BudgetScope {
  const scope = pickBudgetScope(base)
  if (perCall === undefined || perCall === null) return scope
  if (typeof perCall !== 'object' || Array.isArray(perCall)) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: an object of ${SCOPE_FIELDS.join(', ')} (got ${typeof perCall}).`,
    )
  }
  for (const key of Object.keys(perCall)) {
    if (!(SCOPE_FIELDS as readonly string[]).includes(key)) {
      throw new InvalidConfigError(
        `${field}.${key}`,
        `Unknown ${field}.${key}: the scope fields are ${SCOPE_FIELDS.join(', ')}.`,
      )
    }
  }
  const call = perCall as BudgetScope
  if (call.runId !== undefined) scope.runId = call.runId
  if (call.runCap !== undefined) scope.runCap = call.runCap
  if (call.parentRunId !== undefined) scope.parentRunId = call.parentRunId
  if (call.budgets !== undefined) {
    // Not an array: passed as is, so that the reserve names the bad field.
    scope.budgets = Array.isArray(call.budgets)
      ? [...new Set([...(scope.budgets ?? []), ...call.budgets])]
      : call.budgets
  }
  return scope
}

/** What the agent's own cap (with its live grants) leaves for a new hold; the ledger checks the rest. */
export function availableAt(agent: AgentRecord, now: number): number {
  return effectiveCap(agent, now) - agent.spentMicros - agent.heldMicros
}
