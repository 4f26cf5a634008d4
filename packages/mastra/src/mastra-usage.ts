// Mastra's step usage (flat, AI SDK v5 names) to the core's TokenUsage.
import { type TokenUsage, withProviderUsage } from '@killswitch/core'
import type { LanguageModelUsage } from '@mastra/core/stream'

/**
 * Maps a Mastra step's usage to the core's TokenUsage; undefined when the input or output
 * count is missing (not a zero: the core then settles the call at its whole hold). For an
 * AI SDK 6+ model Mastra's `inputTokens` include cache reads and writes, as the core expects;
 * for an AI SDK 5 one they are the provider's own figure (Anthropic's excludes the cache,
 * whose writes are then only in the step's `providerMetadata`): the core's
 * `withProviderUsage` completes them from it, as it does for the AI SDK adapter.
 *
 * @example
 * toTokenUsage({ inputTokens: 1200, outputTokens: 300, totalTokens: 1500, cachedInputTokens: 1000 })
 * // { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 1000 }
 */
export function toTokenUsage(
  usage: LanguageModelUsage | undefined,
  providerMetadata?: unknown,
): TokenUsage | undefined {
  const mapped = withProviderUsage(
    {
      inputTokens: usage?.inputTokens,
      outputTokens: usage?.outputTokens,
      cacheReadTokens: usage?.cachedInputTokens,
      // Mastra's split of Anthropic's writes by TTL (cacheCreationInputTokens5m, 1h) is
      // copied from the metadata, which withProviderUsage reads itself.
      cacheWriteTokens: usage?.cacheCreationInputTokens,
      reasoningTokens: usage?.reasoningTokens,
    },
    providerMetadata,
  )
  const { inputTokens, outputTokens } = mapped
  if (typeof inputTokens !== 'number' || typeof outputTokens !== 'number') return undefined
  // The other counts as reported: the core believes only sane ones (call-ending.ts).
  return mapped
}
