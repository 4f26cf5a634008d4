// Whether a failed upstream fetch provably never left: the one fact about a call's ending
// the gateway knows and the core needs (`fail(error, { sent: false })` releases the hold).
// The core decides what each ending costs.

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
