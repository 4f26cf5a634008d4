// Mastra's step usage (flat, AI SDK v5 names) to the core's TokenUsage.
import type { TokenUsage } from '@killswitch/core'
import type { LanguageModelUsage } from '@mastra/core/stream'

/**
 * Maps a Mastra step's usage to the core's TokenUsage; undefined when the input or output
 * count is missing (not a zero: the core then settles the call at its whole hold). Mastra's
 * `inputTokens` include cache reads and writes, as the core expects.
 *
 * @example
 * toTokenUsage({ inputTokens: 1200, outputTokens: 300, totalTokens: 1500, cachedInputTokens: 1000 })
 * // { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 1000 }
 */
export function toTokenUsage(usage: LanguageModelUsage | undefined): TokenUsage | undefined {
  const { inputTokens, outputTokens } = usage ?? {}
  if (typeof inputTokens !== 'number' || typeof outputTokens !== 'number') return undefined
  // The other counts as reported: the core believes only sane ones (call-ending.ts).
  return {
    inputTokens,
    outputTokens,
    cacheReadTokens: usage?.cachedInputTokens,
    cacheWriteTokens: usage?.cacheCreationInputTokens,
    reasoningTokens: usage?.reasoningTokens,
  }
}
