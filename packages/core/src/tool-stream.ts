// A tool call that yields its results (an async generator: a tool that streams preliminary
// results) through the guard: `runToolCall`'s lifecycle around an iteration instead of one
// awaited value, for a framework that must get a generator back to stream its parts.
import type { AgentGuard, ToolCallRequest } from './guard-types.js'

/**
 * Runs a tool that yields: refused before its first part (revoked, runaway, a paid tool over
 * the cap), its price held, then charged once it ended, whether it completed, threw (the
 * error is rethrown) or was left early by its consumer: it ran. No part is passed on once the
 * guard's signal aborted (revocation). Nothing runs until the first part is asked for.
 *
 * @example
 * const parts = runToolCallStream(guard, { name: 'search', args }, () => search(args))
 * for await (const part of parts) show(part)
 */
export async function* runToolCallStream<T>(
  guard: Pick<AgentGuard, 'beforeToolCall' | 'afterToolCall' | 'signal'>,
  request: ToolCallRequest,
  run: () => AsyncIterable<T>,
): AsyncGenerator<T, void, undefined> {
  const ticket = await guard.beforeToolCall(request)
  let failure: { ok: false; error: unknown } | undefined
  try {
    for await (const part of run()) {
      guard.signal.throwIfAborted()
      yield part
    }
  } catch (error) {
    failure = { ok: false, error }
    throw error
  } finally {
    await guard.afterToolCall(ticket, failure ?? { ok: true })
  }
}
