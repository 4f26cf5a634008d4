// What a LangChain model call produced, in the core's terms. Usage is read from the AI
// message (`usage_metadata`), the same shape for every provider; `llmOutput` differs per
// provider, so it is not read.
import type { ModelCallResult, TokenUsage } from '@killswitch/core'
import { AIMessage, type UsageMetadata } from '@langchain/core/messages'

/**
 * Maps a LangChain `usage_metadata` onto the core's TokenUsage (same meanings: totals that
 * include their parts). Undefined when missing or malformed: the core then settles its own
 * bound, never zero.
 *
 * @example
 * const usage = toTokenUsage(message.usage_metadata)
 */
export function toTokenUsage(metadata: UsageMetadata | undefined | null): TokenUsage | undefined {
  if (metadata === undefined || metadata === null || typeof metadata !== 'object') return undefined
  const inputTokens = count(metadata.input_tokens)
  const outputTokens = count(metadata.output_tokens)
  if (inputTokens === undefined || outputTokens === undefined) return undefined
  const usage: TokenUsage = { inputTokens, outputTokens }
  const cacheReadTokens = count(metadata.input_token_details?.cache_read)
  const cacheWriteTokens = count(metadata.input_token_details?.cache_creation)
  const reasoningTokens = count(metadata.output_token_details?.reasoning)
  if (cacheReadTokens !== undefined) usage.cacheReadTokens = cacheReadTokens
  if (cacheWriteTokens !== undefined) usage.cacheWriteTokens = cacheWriteTokens
  if (reasoningTokens !== undefined) usage.reasoningTokens = reasoningTokens
  return usage
}

/** The model's answer as the core settles it: usage, text and tool calls. */
export function modelCallResult(message: unknown): ModelCallResult {
  if (!AIMessage.isInstance(message)) return {}
  // `text` converts the content to standard blocks (tens of µs): plain content is the text.
  const text = typeof message.content === 'string' ? message.content : message.text
  const result: ModelCallResult = { text }
  const usage = toTokenUsage(message.usage_metadata)
  if (usage !== undefined) result.usage = usage
  if (message.tool_calls !== undefined && message.tool_calls.length > 0) {
    result.toolCalls = message.tool_calls.map(({ name, args }) => ({ name, args }))
  }
  return result
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
}
