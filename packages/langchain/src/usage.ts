// LangChain reports token usage on the AI message (`usage_metadata`), in the same shape for
// every provider; `llmOutput` differs per provider, so it is not read. This maps it onto the
// core's TokenUsage, whose fields mean the same things (totals that include their parts).

import type { TokenUsage } from '@killswitch/core'
import type { UsageMetadata } from '@langchain/core/messages'

/**
 * Maps a LangChain `usage_metadata` onto the core's TokenUsage. Returns undefined when the
 * usage is missing or malformed, so that the guard settles the whole hold (never zero).
 *
 * @example
 * const usage = toTokenUsage(message.usage_metadata)
 * await guard.afterModelCall(ticket, { usage })
 */
export function toTokenUsage(metadata: UsageMetadata | undefined | null): TokenUsage | undefined {
  if (metadata === undefined || metadata === null || typeof metadata !== 'object') return undefined
  const inputTokens = count(metadata.input_tokens)
  const outputTokens = count(metadata.output_tokens)
  // A usage without both totals cannot price the call: settle the hold instead of guessing.
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

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
}
