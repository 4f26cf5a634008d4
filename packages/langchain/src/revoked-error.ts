// The error to surface once the agent is revoked. The core aborts the guard's signal with
// AgentRevokedError; provider clients replace it with their own AbortError ("Request was
// aborted.") that nothing can recognise, so the adapters throw the signal's reason instead.
import { type AgentGuard, AgentRevokedError, findKillSwitchError } from '@killswitch/core'

/**
 * The typed error behind the guard's aborted signal.
 *
 * @example
 * if (guard.signal.aborted) throw revokedError(guard)
 */
export function revokedError(guard: AgentGuard): Error {
  return findKillSwitchError(guard.signal.reason) ?? new AgentRevokedError()
}
