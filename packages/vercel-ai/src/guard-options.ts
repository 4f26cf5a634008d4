// How an adapter gets its guard: from a kill switch and an agent credential, or a guard the
// caller built already. The options are checked by the core's adapterSetup; these names stay
// for the adapters built on this one (@killswitch/mastra).
import {
  type AgentGuard,
  adapterSetup,
  type GuardSource as CoreGuardSource,
} from '@killswitch/core'

/** The one thing this package needs from a kill switch: a guard for a credential. */
export type KillSwitchLike = CoreGuardSource

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
  return adapterSetup(source).guard
}
