// The options both entry points share, checked once at construction: a misconfigured kill
// switch must fail loudly when the agent is built, not silently let calls through.

import { type AgentGuard, InvalidConfigError, parseToolPrices } from '@killswitch/core'
import type { BudgetScope } from './budget-scope.js'
import type { ModelNaming } from './model-identity.js'

/**
 * Anything that hands out agent guards: the object `createKillSwitch()` returns.
 *
 * @example
 * const source: GuardSource = createKillSwitch()
 */
export interface GuardSource {
  guard(credential: string): AgentGuard
}

/**
 * How the adapter finds its guard and names the model.
 *
 * @example
 * const options: KillSwitchOptions = { killSwitch: ks, credential, toolPrices: { web_search: 0.01 } }
 */
export interface KillSwitchOptions extends ModelNaming, BudgetScope {
  // BudgetScope: `runId` groups the calls of a run (default: the middleware leaves it to the
  // core, the callback handler uses the outermost LangChain run); `runCap` is the run's own
  // budget in dollars; `parentRunId` the run it was started in (drawn on too); `budgets` the
  // shared budgets every call draws on. A call adds its own scope: `configurable.killswitch`
  // (middleware) or `metadata.killswitch` (callback handler).
  /** The kill switch, from `createKillSwitch()`. */
  killSwitch: GuardSource
  /** The agent's credential (`ks_...`), as `ks.agents.create()` returned it. */
  credential: string
  /**
   * Prices of paid tools, in dollars per call, by tool name: each call is held before the
   * tool runs and settled after it. Tools not listed are free.
   */
  toolPrices?: Readonly<Record<string, number>>
}

/**
 * Checks the options and returns the agent's guard.
 *
 * @example
 * const guard = guardFromOptions({ killSwitch: ks, credential })
 */
export function guardFromOptions(options: KillSwitchOptions): AgentGuard {
  if (options === null || typeof options !== 'object') {
    throw new InvalidConfigError('options', 'Pass { killSwitch, credential } to the kill switch.')
  }
  if (typeof options.killSwitch?.guard !== 'function') {
    throw new InvalidConfigError(
      'killSwitch',
      'killSwitch must be the object createKillSwitch() returns (it has a guard(credential) method).',
    )
  }
  // The credential itself never goes into a message.
  if (typeof options.credential !== 'string' || options.credential.length === 0) {
    throw new InvalidConfigError(
      'credential',
      'credential must be the agent credential string (ks_...) that ks.agents.create() returned.',
    )
  }
  for (const field of ['model', 'provider'] as const) {
    const value = options[field]
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new InvalidConfigError(field, `${field} must be a non-empty string when given.`)
    }
  }
  parseToolPrices(options.toolPrices)
  return options.killSwitch.guard(options.credential)
}
