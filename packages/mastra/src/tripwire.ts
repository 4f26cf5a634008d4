// What a kill switch tripwire carries: the processor refuses through Mastra's `abort` (a
// thrown error loses its class and cause there), with the core error's code in the metadata.
import type { KillSwitchErrorCode } from '@killswitch/core'

/**
 * The processor's id, and the `processorId` of the tripwires it raises.
 *
 * @example
 * if (result.tripwire?.processorId === KILL_SWITCH_PROCESSOR_ID) alertOnCall(result.tripwire)
 */
export const KILL_SWITCH_PROCESSOR_ID = 'killswitch'

/**
 * A kill switch tripwire's `metadata`: the core error's `code`, HTTP `status` and class
 * `name`, and when the error names them the agent's `handle`, the budget that refused
 * (`budgetId`), its window (`per`) and when it resets (`resetsAt`, ISO 8601).
 *
 * @example
 * const stop: KillSwitchTripwireMetadata | undefined = killSwitchTripwire(result.tripwire)
 * // { code: 'agent_revoked', status: 401, name: 'AgentRevokedError', handle: 'researcher-7' }
 */
export interface KillSwitchTripwireMetadata {
  code: KillSwitchErrorCode
  status: number
  name: string
  handle?: string
  budgetId?: string
  per?: string
  resetsAt?: string
}

/**
 * The kill switch's refusal in a run's tripwire; undefined when it did not stop the run.
 *
 * @example
 * if (killSwitchTripwire(result.tripwire)?.code === 'spending_cap_exceeded') notifyOwner()
 */
export function killSwitchTripwire(
  tripwire: { processorId?: string; metadata?: unknown } | undefined,
): KillSwitchTripwireMetadata | undefined {
  if (tripwire?.processorId !== KILL_SWITCH_PROCESSOR_ID) return undefined
  const metadata = tripwire.metadata as Partial<KillSwitchTripwireMetadata> | undefined
  return typeof metadata?.code === 'string' ? (metadata as KillSwitchTripwireMetadata) : undefined
}
