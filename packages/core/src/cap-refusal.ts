// The one translation of a ledger refusal (store.ts LevelRefusal) into the error a caller
// sees: which level refused (the agent's cap, one of its windows, or a shared budget), what
// that level has spent and held, and when its window resets.
import { SpendingCapExceededError } from './errors.js'
import { toUsd } from './money.js'
import { runName } from './reserve-scope.js'
import type { AgentRecord, LevelRefusal } from './store.js'

/** Names a level for people: `its spending cap`, `its $5/hour limit`, `budget "team" ($100/day)`. */
export function describeLevel(refusal: LevelRefusal): string {
  const limit = `$${toUsd(refusal.limitMicros)}${refusal.per && refusal.per !== 'lifetime' ? `/${refusal.per}` : ''}`
  if (refusal.level === 'budget') {
    return refusal.budgetId?.startsWith('run:')
      ? `the ${limit} budget of run "${runName(refusal.budgetId)}"`
      : `budget "${refusal.budgetId}" (${limit})`
  }
  return refusal.per === undefined ? `its spending cap of ${limit}` : `its ${limit} limit`
}

/**
 * What to do about a refusal at `level`: raise the limit where it is set, or wait for its
 * window to reset (`resetsAt`, ISO 8601). The one wording, for the guard's refusals and
 * `verifyRefusal`.
 *
 * @example
 * refusalFix({ level: 'budget' }) // 'Raise the budget (budgets.update) to continue.'
 */
export function refusalFix(
  {
    level,
    per,
    budgetId,
    limitMicros,
  }: Pick<LevelRefusal, 'level' | 'per' | 'budgetId'> & Partial<Pick<LevelRefusal, 'limitMicros'>>,
  resetsAt?: string,
): string {
  // A run's cap is the caller's, given by its calls (runCap): no API raises it.
  if (level === 'budget' && budgetId?.startsWith('run:')) {
    return 'A run is capped by its calls (runCap): continue in a new run with a larger runCap.'
  }
  // The ledger refuses a budget id with no budget as a lifetime budget of $0 (fails closed):
  // raising it cannot work when there is none to raise.
  if (level === 'budget' && per === 'lifetime' && limitMicros === 0) {
    return `If no budget has the id "${budgetId}", create it (budgets.create) or fix the call's budgets; else raise the budget (budgets.update).`
  }
  const where =
    level === 'budget'
      ? 'the budget (budgets.update)'
      : per === undefined
        ? 'the cap (agents.update)'
        : 'the limit (agents.update)'
  return resetsAt === undefined
    ? `Raise ${where} to continue.`
    : `It resets at ${resetsAt}; raise ${where} to continue sooner.`
}

/**
 * The SpendingCapExceededError for a reserve refused at `refusal` (the agent's own cap when
 * absent), for a call that needed at least `requestedMicros`.
 *
 * @example
 * throw capRefusalError(agent, result.refusal, 1_200)
 */
export function capRefusalError(
  agent: AgentRecord,
  refusal: LevelRefusal | undefined,
  requestedMicros: number,
  /** A message of the caller's own (a stream stopped past its hold), the figures unchanged. */
  message?: string,
): SpendingCapExceededError {
  const level: LevelRefusal = refusal ?? {
    level: 'agent',
    limitMicros: agent.capMicros,
    spentMicros: agent.spentMicros,
    heldMicros: agent.heldMicros,
  }
  const available = Math.max(0, level.limitMicros - level.spentMicros - level.heldMicros)
  const resetsAt = level.resetsAt === undefined ? undefined : new Date(level.resetsAt).toISOString()
  return new SpendingCapExceededError({
    handle: agent.handle,
    spendingCapUsd: toUsd(level.limitMicros),
    spentUsd: toUsd(level.spentMicros),
    heldUsd: toUsd(level.heldMicros),
    requestedUsd: toUsd(requestedMicros),
    level: level.level,
    ...(level.budgetId === undefined ? {} : { budgetId: level.budgetId }),
    ...(level.per === undefined ? {} : { per: level.per }),
    ...(resetsAt === undefined ? {} : { resetsAt }),
    message:
      message ??
      `Agent "${agent.handle}" would exceed ${describeLevel(level)}: $${toUsd(level.spentMicros)} spent, ` +
        `$${toUsd(level.heldMicros)} held by calls in flight, $${toUsd(available)} available, ` +
        `this call needs at least $${toUsd(requestedMicros)}. ${refusalFix(level, resetsAt)}`,
  })
}
