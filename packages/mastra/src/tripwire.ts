// A refusal inside a Mastra processor. Mastra turns a thrown error there into a plain Error
// (class and cause lost), so refusals go through `abort`: the run ends with a tripwire whose
// metadata keeps the kill switch's code, status and handle.
import { findKillSwitchError, type KillSwitchErrorCode } from '@killswitch/core'
import type { ProcessorContext } from '@mastra/core/processors'

/**
 * The processor's id, and the `processorId` of the tripwires it raises.
 *
 * @example
 * if (result.tripwire?.processorId === KILL_SWITCH_PROCESSOR_ID) alertOnCall(result.tripwire)
 */
export const KILL_SWITCH_PROCESSOR_ID = 'killswitch'

/**
 * What a kill switch tripwire carries in `result.tripwire.metadata`.
 *
 * @example
 * const stop: KillSwitchTripwireMetadata | undefined = killSwitchTripwire(result.tripwire)
 * // { code: 'agent_revoked', status: 401, name: 'AgentRevokedError', handle: 'researcher-7' }
 */
export interface KillSwitchTripwireMetadata {
  /** The core's stable error code, e.g. `spending_cap_exceeded`. */
  code: KillSwitchErrorCode
  /** The HTTP status the error maps to (401 revoked, 402 over the cap, 429 runaway...). */
  status: number
  /** The error's class name, e.g. `SpendingCapExceededError`. */
  name: string
  /** The agent's handle, when the error names it. */
  handle?: string
  /** The shared budget that refused (`customer-acme`, `run:<runId>`), when one did. */
  budgetId?: string
  /** The window that refused (`day`, `month`...), when one did. */
  per?: string
  /** When that window resets (ISO 8601). */
  resetsAt?: string
}

/**
 * Reads the kill switch's refusal from a Mastra run's tripwire, or undefined when the run
 * was not stopped by the kill switch.
 *
 * @example
 * const result = await agent.generate('go')
 * const stop = killSwitchTripwire(result.tripwire)
 * if (stop?.code === 'spending_cap_exceeded') notifyOwner(stop.handle)
 */
export function killSwitchTripwire(
  tripwire: { processorId?: string; metadata?: unknown } | undefined,
): KillSwitchTripwireMetadata | undefined {
  if (tripwire?.processorId !== KILL_SWITCH_PROCESSOR_ID) return undefined
  const metadata = tripwire.metadata as Partial<KillSwitchTripwireMetadata> | undefined
  return typeof metadata?.code === 'string' ? (metadata as KillSwitchTripwireMetadata) : undefined
}

/**
 * Ends the run through Mastra's `abort` when `error` is a kill switch refusal; rethrows any
 * other error unchanged (it still stops the run: nothing fails open).
 */
export function refuse(
  abort: ProcessorContext<KillSwitchTripwireMetadata>['abort'],
  error: unknown,
): never {
  const found = findKillSwitchError(error)
  if (!found) throw error
  const metadata: KillSwitchTripwireMetadata = {
    code: found.code,
    status: found.status,
    name: found.name,
  }
  const fields = found as {
    handle?: unknown
    budgetId?: unknown
    per?: unknown
    resetsAt?: unknown
  }
  for (const key of ['handle', 'budgetId', 'per', 'resetsAt'] as const) {
    const value = fields[key]
    if (typeof value === 'string') metadata[key] = value
  }
  return abort(found.message, { metadata })
}
