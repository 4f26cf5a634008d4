// Whether a Mastra tool ran, read from what its `execute` answered. Mastra checks a tool's
// input and its request context inside `execute`, and answers a failure there with a
// ValidationError instead of running the tool (@mastra/core/tools `validateToolInput`): such a
// call never started, and its price is released. Anything else it answered, it ran.
import type { ToolOutcome } from '@killswitch/core'
import { isValidationError } from '@mastra/core/tools'

// What Mastra finds before the tool runs; its output check ("Tool output validation
// failed") comes after the tool ran. Another wording is read as ran: charged, never free.
const BEFORE_IT_RAN = ['Tool input validation failed', 'Request context validation failed']

/**
 * The outcome of a Mastra tool call that returned `output`.
 *
 * @example
 * guard.runToolCall(request, () => tool.execute(input, context), { returned: mastraToolOutcome })
 */
export function mastraToolOutcome(output: unknown): ToolOutcome {
  if (!isValidationError(output)) return { ok: true }
  const { message } = output
  if (!BEFORE_IT_RAN.some((prefix) => message.startsWith(prefix))) return { ok: true }
  return { ok: false, error: new Error(message), started: false }
}
