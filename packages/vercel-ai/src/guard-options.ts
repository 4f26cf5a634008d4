// How an adapter gets its guard: from a kill switch and an agent credential, or a guard the
// caller built already (the Mastra adapter, tests, several wrappers sharing one guard).
import { type AgentGuard, InvalidConfigError } from '@killswitch/core'

/** The one thing this package needs from a kill switch: a guard for a credential. */
export interface KillSwitchLike {
  guard(credential: string): AgentGuard
}

/** Either a kill switch and the agent's credential, or a ready guard. */
export type GuardSource =
  | { killSwitch: KillSwitchLike; credential: string; guard?: never }
  | { guard: AgentGuard; killSwitch?: never; credential?: never }

/**
 * Returns the guard the options name, or throws InvalidConfigError naming the missing field.
 *
 * @example
 * const guard = resolveGuard({ killSwitch: ks, credential: process.env.AGENT_CREDENTIAL })
 */
export function resolveGuard(source: GuardSource): AgentGuard {
  // Checked at runtime too: plain JavaScript callers and `as any` reach here.
  const given = source as Partial<{
    killSwitch: KillSwitchLike
    credential: unknown
    guard: AgentGuard
  }>
  if (given.guard !== undefined) {
    if (given.killSwitch !== undefined || given.credential !== undefined) {
      throw new InvalidConfigError(
        'guard',
        'Pass either { guard } or { killSwitch, credential }, not both: the guard already carries its credential.',
      )
    }
    return given.guard
  }
  if (given.killSwitch === undefined || typeof given.killSwitch.guard !== 'function') {
    throw new InvalidConfigError(
      'killSwitch',
      'Missing killSwitch: pass { killSwitch: createKillSwitch(...), credential } or a ready { guard }.',
    )
  }
  if (typeof given.credential !== 'string' || given.credential.length === 0) {
    throw new InvalidConfigError(
      'credential',
      'Missing credential: pass the agent credential (ks_...) returned by ks.agents.create().',
    )
  }
  return given.killSwitch.guard(given.credential)
}
