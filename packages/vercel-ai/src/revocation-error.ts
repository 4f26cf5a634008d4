// The error to surface when the guard's signal aborts: the core's own, with its handle and
// reason, never a bare AbortError that a framework might swallow as "the user cancelled".
import { type AgentGuard, AgentRevokedError, findKillSwitchError } from '@killswitch/core'

/**
 * Returns the typed error behind an aborted guard signal.
 *
 * @example
 * if (guard.signal.aborted) throw await revocationError(guard)
 */
export async function revocationError(guard: AgentGuard): Promise<Error> {
  const fromSignal = findKillSwitchError(guard.signal.reason)
  if (fromSignal) return fromSignal
  try {
    // The signal carried no typed reason: ask the core, which names the agent and why.
    await guard.check()
  } catch (error) {
    const found = findKillSwitchError(error)
    if (found) return found
  }
  return new AgentRevokedError()
}
