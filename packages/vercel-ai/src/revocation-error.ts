// The error to surface when the guard's signal aborts: the core aborts it with its own
// AgentRevokedError (handle and reason), never a bare AbortError that a framework might
// swallow as "the user cancelled".
import { type AgentGuard, AgentRevokedError, findKillSwitchError } from '@killswitch/core'

/**
 * Returns the typed error behind an aborted guard signal.
 *
 * @example
 * if (guard.signal.aborted) throw revocationError(guard)
 */
export function revocationError(guard: AgentGuard): Error {
  return findKillSwitchError(guard.signal.reason) ?? new AgentRevokedError()
}
