// What a credential check at a service's edge refuses: the one translation of `verify`'s
// answer into the error its caller sees, so that an edge adapter (Mastra's server middleware,
// your own HTTP service) only sends it in its framework's idiom and never decides it.
import { AgentRevokedError, type KillSwitchError, SpendingCapExceededError } from './errors.js'
import type { VerifyResult } from './kill-switch.js'
import { outOfBudget } from './tightest-level.js'

/**
 * The refusal for a `verify` answer, or undefined when the agent may go on: revoked, unknown
 * or malformed is AgentRevokedError (401); nothing left to spend at its tightest level (its
 * cap, a window, a shared budget) is SpendingCapExceededError (402), unless that level is the
 * agent's own and its approvals are on: its next call asks a person, as the guard's would.
 *
 * @example
 * const refusal = verifyRefusal(await ks.verify(credential))
 * if (refusal) return Response.json({ error: { code: refusal.code } }, { status: refusal.status })
 */
export function verifyRefusal(verdict: VerifyResult): KillSwitchError | undefined {
  const { handle, available, spendingCap, spent = 0 } = verdict
  if (!verdict.active) return new AgentRevokedError(handle === undefined ? {} : { handle })
  if (available === undefined) return undefined
  if (!outOfBudget(available, verdict.limitedBy ?? 'agent', verdict.approvals === true)) {
    return undefined
  }
  const who = handle ?? 'unknown'
  const level = verdict.limitedBy ?? 'agent'
  const cap = spendingCap === undefined ? '' : ` (spending cap $${spendingCap}, $${spent} spent)`
  const message =
    level === 'budget'
      ? `Agent "${who}" has no budget left: a shared budget it draws on is spent. Raise that budget (budgets.update) or wait for its window to reset.`
      : `Agent "${who}" has no budget left${cap}. Raise its cap or the window that binds (agents.update) to continue.`
  return new SpendingCapExceededError({
    handle: who,
    spendingCapUsd: spendingCap ?? 0,
    spentUsd: spent,
    heldUsd: 0,
    requestedUsd: 0,
    level,
    message,
  })
}
