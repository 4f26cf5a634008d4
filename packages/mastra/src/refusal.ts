// How a refusal leaves the adapter: through `abort` at a processor hook (a tripwire), or
// thrown from a model call, marked final so that Mastra does not retry it.
import { findKillSwitchError, KillSwitchError } from '@killswitch/core'
import type { ProcessorContext } from '@mastra/core/processors'
import type { KillSwitchTripwireMetadata } from './tripwire.js'

const NAMED = ['handle', 'budgetId', 'per', 'resetsAt'] as const
const API_CALL_ERROR = Symbol.for('vercel.ai.error.AI_APICallError')

/** Ends the run through `abort` for a kill switch refusal; rethrows any other error. */
export function refuse(
  abort: ProcessorContext<KillSwitchTripwireMetadata>['abort'],
  error: unknown,
): never {
  const found = findKillSwitchError(error)
  if (!found) throw error
  const { code, status, name } = found
  const metadata: KillSwitchTripwireMetadata = { code, status, name }
  for (const key of NAMED) {
    const value = (found as Partial<Record<(typeof NAMED)[number], unknown>>)[key]
    if (typeof value === 'string') metadata[key] = value
  }
  return abort(found.message, { metadata })
}

/**
 * Mastra retries a failed model call with backoff unless it is an APICallError that is not
 * retryable (`isRetryableModelError`, @mastra/core): a refusal is final, so it is marked as
 * one, its class intact, and the run ends at once.
 */
export function notRetried(error: unknown): unknown {
  if (
    KillSwitchError.isInstance(error) &&
    Object.isExtensible(error) &&
    !(API_CALL_ERROR in error)
  ) {
    Object.defineProperties(error, {
      [API_CALL_ERROR]: { value: true },
      isRetryable: { value: false },
    })
  }
  return error
}
