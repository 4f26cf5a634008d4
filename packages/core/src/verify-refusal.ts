// What a credential check at a service's edge refuses: the one translation of `verify`'s
// answer into the error its caller sees, so that an edge adapter (Mastra's server middleware,
// your own HTTP service) only sends it in its framework's idiom and never decides it.
import { refusalFix } from './cap-refusal.js'
import { AgentRevokedError, type KillSwitchError, SpendingCapExceededError } from './errors.js'
import type { VerifyResult } from './kill-switch.js'
import { outOfBudget } from './tightest-level.js'

/**
 * The refusal for a `verify` answer, or undefined when the agent may go on: revoked, unknown
 * or malformed is AgentRevokedError (401); nothing left to spend at its tightest level (its
 * cap, a window, a shared budget) is SpendingCapExceededError (402) naming that level and
 * when it resets, unless it is the agent's own spending cap and its approvals are on: its next
 * call asks a person, as the guard's would.
 *
 * @example
 * const refusal = verifyRefusal(await ks.verify(credential))
 * if (refusal) return Response.json({ error: { code: refusal.code } }, { status: refusal.status })
 */
export function verifyRefusal(verdict: VerifyResult): KillSwitchError | undefined {
  const { handle, available, spendingCap, spent = 0, budgetId, per, resetsAt } = verdict
  if (!verdict.active) return new AgentRevokedError(handle === undefined ? {} : { handle })
  if (available === undefined) return undefined
  const level = verdict.limitedBy ?? 'agent'
  if (!outOfBudget(available, { level, per }, verdict.approvals === true)) return undefined
  const who = handle ?? 'unknown'
  const where =
    level === 'budget'
      ? `shared budget "${budgetId ?? 'unknown'}"${per && per !== 'lifetime' ? ` (per ${per})` : ''} is spent`
      : per === undefined
        ? `its spending cap of $${spendingCap ?? 0} is spent ($${spent})`
        : `its ${per === 'lifetime' ? 'lifetime' : `per-${per}`} limit is spent`
  return new SpendingCapExceededError({
    handle: who,
    spendingCapUsd: spendingCap ?? 0,
    spentUsd: spent,
    heldUsd: 0,
    requestedUsd: 0,
    level,
    ...(budgetId === undefined ? {} : { budgetId }),
    ...(per === undefined ? {} : { per }),
    ...(resetsAt === undefined ? {} : { resetsAt }),
    message: `Agent "${who}" has no budget left: ${where}. ${refusalFix({ level, per, budgetId }, resetsAt)}`,
  })
}
