// A refusal inside a Mastra processor. Mastra turns an error thrown there into a plain Error
// (class and cause lost), so refusals go through `abort`: the run ends with a tripwire whose
// metadata keeps the kill switch's code, status and handle.
import { findKillSwitchError, KillSwitchError, type KillSwitchErrorCode } from '@killswitch/core'
import type { ProcessorContext } from '@mastra/core/processors'

/**
 * The processor's id, and the `processorId` of the tripwires it raises.
 *
 * @example
 * if (result.tripwire?.processorId === KILL_SWITCH_PROCESSOR_ID) alertOnCall(result.tripwire)
 */
export const KILL_SWITCH_PROCESSOR_ID = 'killswitch'

/**
 * What a kill switch tripwire carries in `result.tripwire.metadata`: the core's error
 * `code`, its HTTP `status` (401 revoked, 402 over the cap, 429 runaway...), the error's
 * class `name`, and when the error names them the agent's `handle`, the shared budget that
 * refused (`budgetId`: `customer-acme`, `run:<runId>`), its window (`per`) and when that
 * window resets (`resetsAt`, ISO 8601).
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
 * Reads the kill switch's refusal from a Mastra run's tripwire; undefined when the run was
 * not stopped by the kill switch.
 *
 * @example
 * const stop = killSwitchTripwire((await agent.generate('go')).tripwire)
 * if (stop?.code === 'spending_cap_exceeded') notifyOwner(stop.handle)
 */
export function killSwitchTripwire(
  tripwire: { processorId?: string; metadata?: unknown } | undefined,
): KillSwitchTripwireMetadata | undefined {
  if (tripwire?.processorId !== KILL_SWITCH_PROCESSOR_ID) return undefined
  const metadata = tripwire.metadata as Partial<KillSwitchTripwireMetadata> | undefined
  return typeof metadata?.code === 'string' ? (metadata as KillSwitchTripwireMetadata) : undefined
}

/** Ends the run through `abort` for a kill switch refusal; rethrows any other error. */
export function refuse(
  abort: ProcessorContext<KillSwitchTripwireMetadata>['abort'],
  error: unknown,
): never {
  const found = findKillSwitchError(error)
  if (!found) throw error
  const { code, status, name } = found
  const metadata: KillSwitchTripwireMetadata = { code, status, name }
  for (const key of ['handle', 'budgetId', 'per', 'resetsAt'] as const) {
    const value = (found as Partial<Record<typeof key, unknown>>)[key]
    if (typeof value === 'string') metadata[key] = value
  }
  return abort(found.message, { metadata })
}

const API_CALL_ERROR = Symbol.for('vercel.ai.error.AI_APICallError')

/**
 * Mastra retries a failed model call, with backoff, unless the error is an APICallError that
 * is not retryable (`isRetryableModelError` in @mastra/core): a kill switch refusal is final,
 * so it is marked as one (its class intact) and ends the run at once.
 */
export function notRetried(error: unknown): unknown {
  if (KillSwitchError.isInstance(error) && !(API_CALL_ERROR in error)) {
    Object.defineProperties(error, {
      [API_CALL_ERROR]: { value: true },
      isRetryable: { value: false },
    })
  }
  return error
}
