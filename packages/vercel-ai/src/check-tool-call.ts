// A tool call the model asked for, checked by the guard before the SDK can execute it.
import type { LanguageModelV4ToolCall } from '@ai-sdk/provider'
import type { AgentGuard } from '@killswitch/core'
import type { BudgetScope } from './budget-scope.js'

/**
 * The tool call's arguments as a value: the provider sends them JSON-encoded. Unparseable
 * input is kept as the raw string, so identical garbage still counts as identical calls.
 *
 * @example
 * parseToolInput('{"query":"gpu prices"}') // { query: 'gpu prices' }
 */
export function parseToolInput(input: string): unknown {
  try {
    return JSON.parse(input)
  } catch {
    return input
  }
}

/**
 * Passes a model's tool call through `guard.beforeToolCall` (revocation, loop detection).
 * Throws the core's typed error when the call is refused. No price here: a paid tool's price
 * is held by `guardTools` around its execution, so each call is observed once.
 *
 * @example
 * for (const part of result.content) if (part.type === 'tool-call') await checkToolCall(guard, part, { runId })
 */
export async function checkToolCall(
  guard: AgentGuard,
  call: Pick<LanguageModelV4ToolCall, 'toolName' | 'input'>,
  scope: BudgetScope,
): Promise<void> {
  await guard.beforeToolCall({ name: call.toolName, args: parseToolInput(call.input), ...scope })
}
