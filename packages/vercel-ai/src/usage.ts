// AI SDK provider usage (nested V4 shape) to the core's flat TokenUsage, completed with the
// counts a provider reports only in its metadata.
import type { LanguageModelV4Usage } from '@ai-sdk/provider'
import { type TokenUsage, withProviderUsage } from '@killswitch/core'

const sum = (...parts: Array<number | undefined>): number | undefined =>
  parts.some((part) => part !== undefined)
    ? parts.reduce<number>((total, part) => total + (part ?? 0), 0)
    : undefined

/**
 * Maps the provider's usage to the core's TokenUsage. Returns undefined when the input or
 * the output total cannot be known: a missing count is not a zero, and the core settles a
 * call without usage at its whole hold (never at $0). `providerMetadata` (the generate
 * result's, the stream's finish part's) supplies counts the usage lacks: see
 * {@link withProviderUsage}.
 *
 * @example
 * toTokenUsage({ inputTokens: { total: 1200, cacheRead: 1000, ... }, outputTokens: { total: 300, ... } })
 * // { inputTokens: 1200, cacheReadTokens: 1000, outputTokens: 300, ... }
 */
export function toTokenUsage(
  usage: LanguageModelV4Usage | undefined,
  providerMetadata?: unknown,
): TokenUsage | undefined {
  if (usage === undefined) return undefined
  const { inputTokens: input, outputTokens: output } = usage
  // `total` includes cache reads and writes; `noCache` excludes both (V4 spec). Providers
  // that leave `total` out still give the parts. An AI SDK 5 Anthropic model's `total` (as
  // ai converts it) is its uncached input alone: the metadata completes it.
  const mapped = withProviderUsage(
    {
      inputTokens: input?.total ?? sum(input?.noCache, input?.cacheRead, input?.cacheWrite),
      outputTokens: output?.total ?? sum(output?.text, output?.reasoning),
      cacheReadTokens: input?.cacheRead,
      cacheWriteTokens: input?.cacheWrite,
      reasoningTokens: output?.reasoning,
    },
    providerMetadata,
  )
  if (mapped.inputTokens === undefined || mapped.outputTokens === undefined) return undefined
  // Only the counts known: an absent key, not an `undefined` one (no copy on the hot path
  // beyond the one object).
  const { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens } = mapped
  const { longCacheWriteTokens } = mapped
  const known: TokenUsage = { inputTokens, outputTokens }
  if (cacheReadTokens !== undefined) known.cacheReadTokens = cacheReadTokens
  if (cacheWriteTokens !== undefined) known.cacheWriteTokens = cacheWriteTokens
  if (reasoningTokens !== undefined) known.reasoningTokens = reasoningTokens
  if (longCacheWriteTokens !== undefined) known.longCacheWriteTokens = longCacheWriteTokens
  return known
}
