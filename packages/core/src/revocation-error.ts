// The error a caller sees once its agent is revoked. The guard aborts its signal with the
// core's AgentRevokedError (handle and reason); provider clients turn that abort into their
// own AbortError ("Request was aborted."), which a framework may swallow as "the user
// cancelled". Adapters surface this one instead.
import { AgentRevokedError, findKillSwitchError, type KillSwitchError } from './errors.js'

/**
 * The typed error behind a guard's aborted signal (an AgentRevokedError, or the runaway
 * stop that revoked it).
 *
 * @example
 * if (guard.signal.aborted) throw revocationError(guard)
 */
export function revocationError(guard: { readonly signal: AbortSignal }): KillSwitchError {
  return findKillSwitchError(guard.signal.reason) ?? new AgentRevokedError()
}
