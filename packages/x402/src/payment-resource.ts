// What a payment paid for, in the audit log: the URL the agent requested (and the one a
// redirect led to), never what the payee says. A payee names any resource it likes in its 402
// (a trusted API's, say): that claim is kept apart, bounded. Origin and path only: a query
// string carries the agent's data (and sometimes its secrets); a path's keys are masked.

import { redactSecrets } from '@killswitch/core'
import type { PaymentCreationContext } from '@x402/core/client'
import { boundedText } from './bounded-text.js'

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
  const resource = withoutQuery(requested)
  const final = answered && withoutQuery(answered)
  // v2 names the resource in the 402 response; v1 in each requirement.
  const v1 = (selectedRequirements as { resource?: unknown }).resource
  const claimed = (paymentRequired.resource as { url?: unknown } | undefined)?.url ?? v1
  return {
    resource,
    ...(final && final !== resource ? { redirectedTo: final } : {}),
    ...(typeof claimed === 'string' && claimed ? { claimedResource: withoutQuery(claimed) } : {}),
  }
}

/** A URL's origin and path, bounded; a string that is no URL up to its first `?` or `#`. */
export function withoutQuery(url: string): string {
  const parsed = URL.parse(url)
  if (!parsed) return boundedText(redactSecrets(url.split(/[?#]/)[0] ?? '')) ?? ''
  // Without its user and password too; a scheme without an origin (`urn:`) keeps its name.
  const origin = parsed.origin === 'null' ? parsed.protocol : parsed.origin
  // A path carries keys too (`/v2/<key>`): masked segment by segment, the host kept.
  const path = parsed.pathname.split('/').map(redactSecrets).join('/')
  return boundedText(`${origin}${path}`) ?? ''
}
