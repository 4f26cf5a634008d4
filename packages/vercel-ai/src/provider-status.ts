// The HTTP status a provider answered a failed call with (the AI SDK's APICallError carries
// it as `statusCode`), so that the core can tell a refused request (4xx, not billed) from
// one that may have done work. Translation only: the core decides what it costs.

/** The provider's HTTP status in `error` or its causes, if any. */
export function providerStatusOf(error: unknown): number | undefined {
  const seen = new Set<unknown>()
  let current: unknown = error
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current)
    const status = (current as { statusCode?: unknown }).statusCode
    if (typeof status === 'number' && Number.isInteger(status)) return status
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
