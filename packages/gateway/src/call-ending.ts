// How a guarded call ends when it does not settle from usage. Whether the request left is
// the one fact the gateway knows and the core needs: `sent: false` only when the upstream
// provably never received it (never called, or the connection was never made); otherwise
// the core charges it. The core decides what each ending costs.
import type { AgentGuard, ModelCallTicket, TokenUsage } from '@killswitch/core'

/**
 * Ends a call that failed or was cut, telling the core whether the request left and what
 * usage the provider had reported by then (a cut stream's `message_start`, say).
 */
export function failCall(
  guard: AgentGuard,
  ticket: ModelCallTicket,
  error: unknown,
  sent: boolean,
  usage?: TokenUsage,
  providerStatus?: number,
): Promise<void> {
  return guard.failModelCall(ticket, error, {
    sent,
    ...(usage === undefined ? {} : { usage }),
    // The core releases a call the provider refused outright (400, 429...): not billed.
    ...(providerStatus === undefined ? {} : { providerStatus }),
  })
}

// Errors raised before a connection exists: the request cannot have reached the upstream.
const NEVER_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

/** True when a fetch error proves the request never left (no connection was made). */
export function neverConnected(error: unknown): boolean {
  const seen = new Set<unknown>()
  let current: unknown = error
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && NEVER_CONNECTED.has(code)) return true
    const errors = (current as { errors?: unknown }).errors
    // Happy-eyeballs connects fail with an AggregateError of per-address refusals.
    if (Array.isArray(errors) && errors.length > 0 && errors.every(neverConnected)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}
