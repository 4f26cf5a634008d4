// The HTTP status a provider answered a failed call with, read from the error the provider
// client threw: the AI SDK's APICallError carries it as `statusCode`, the OpenAI and
// Anthropic clients (and LangChain's wrappers of them) as `status`, often on a `cause`. The
// call's ending rule (call-ending.ts) releases a request the provider refused outright. The
// kill switch's own errors carry an HTTP status too (for an HTTP edge): they are never the
// provider's answer.
import { KillSwitchError } from './errors.js'

/**
 * The provider's HTTP status in `error` or its causes, if any.
 *
 * @example
 * providerStatusOf(new APICallError({ statusCode: 429, ... })) // 429
 */
export function providerStatusOf(error: unknown): number | undefined {
  const seen = new Set<unknown>()
  let current: unknown = error
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current)
    if (KillSwitchError.isInstance(current)) return undefined
    for (const key of ['statusCode', 'status'] as const) {
      const status = (current as Record<string, unknown>)[key]
      if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status < 600) {
        return status
      }
    }
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
