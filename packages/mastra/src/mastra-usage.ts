// Mastra's step usage (flat, AI SDK v5 names) to the core's TokenUsage.
import type { TokenUsage } from '@killswitch/core'
import type { LanguageModelUsage } from '@mastra/core/stream'

/**
 * Maps a Mastra step's usage to the core's TokenUsage. Returns undefined when the input or
 * output count is missing: a missing count is not a zero, and the core then settles the
 * call at its whole hold (never at $0).
 *
 * @example
 * toTokenUsage({
 *   inputTokens: 1200, outputTokens: 300, totalTokens: 1500, cachedInputTokens: 1000,
 * })
 * // { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 1000 }
 */
export function toTokenUsage(usage: LanguageModelUsage | undefined): TokenUsage | undefined {
  if (usage === undefined) return undefined
  const { inputTokens, outputTokens } = usage
  if (typeof inputTokens !== 'number' || typeof outputTokens !== 'number') return undefined
  // Mastra reports `inputTokens` with cache reads and writes included (the V3/V4 `total`),
  // as the core expects; the cache counts are parts of it, priced at their own rates.
  const mapped: TokenUsage = { inputTokens, outputTokens }
  if (typeof usage.cachedInputTokens === 'number') mapped.cacheReadTokens = usage.cachedInputTokens
  if (typeof usage.cacheCreationInputTokens === 'number') {
    mapped.cacheWriteTokens = usage.cacheCreationInputTokens
  }
  if (typeof usage.reasoningTokens === 'number') mapped.reasoningTokens = usage.reasoningTokens
  return mapped
}
