// What a payment paid for, in the audit log: the URL the agent requested (and the one a
// redirect led to), never what the payee says. A payee names any resource it likes in its 402
// (a trusted API's, say): that claim is kept apart, bounded. Each as the core's `shownUrl`
// shows it: origin and path, keys masked (a query string carries the agent's data).

import { shownUrl } from '@killswitch/core'
import type { PaymentCreationContext } from '@x402/core/client'

/**
 * Where a payment's audit entries say it went: the `resource` the agent `requested`; the URL
 * whose 402 was paid (`answered`: the response's URL, after any redirect) as `redirectedTo`,
 * when a redirect led away from it; and as `claimedResource` the resource the payee's 402
 * names (v1: its requirements), when it names one.
 */
export function paymentResource(
  requested: string,
  answered: string | undefined,
  { paymentRequired, selectedRequirements }: PaymentCreationContext,
) {
  const resource = shownUrl(requested)
  const final = answered && shownUrl(answered)
  // v2 names the resource in the 402 response; v1 in each requirement.
  const v1 = (selectedRequirements as { resource?: unknown }).resource
  const claimed = (paymentRequired.resource as { url?: unknown } | undefined)?.url ?? v1
  return {
    resource,
    ...(final && final !== resource ? { redirectedTo: final } : {}),
    ...(typeof claimed === 'string' && claimed ? { claimedResource: shownUrl(claimed) } : {}),
  }
}
