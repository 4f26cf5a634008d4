// AI SDK provider usage (nested V4 shape) to the core's flat TokenUsage.
import type { LanguageModelV4Usage } from '@ai-sdk/provider'
import type { TokenUsage } from '@killswitch/core'

const sum = (...parts: Array<number | undefined>): number | undefined =>
  parts.some((part) => part !== undefined)
    ? parts.reduce<number>((total, part) => total + (part ?? 0), 0)
    : undefined

/**
 * Maps the provider's usage to the core's TokenUsage. Returns undefined when the input or
 * the output total cannot be known: a missing count is not a zero, and the core settles a
 * call without usage at its whole hold (never at $0).
 *
 * @example
 * toTokenUsage({ inputTokens: { total: 1200, cacheRead: 1000, ... }, outputTokens: { total: 300, ... } })
 * // { inputTokens: 1200, cacheReadTokens: 1000, outputTokens: 300, ... }
 */
export function toTokenUsage(usage: LanguageModelV4Usage | undefined): TokenUsage | undefined {
  if (usage === undefined) return undefined
  const { inputTokens: input, outputTokens: output } = usage
  // `total` includes cache reads and writes; `noCache` excludes both (V4 spec). Providers
  // that leave `total` out still give the parts.
  const inputTokens = input?.total ?? sum(input?.noCache, input?.cacheRead, input?.cacheWrite)
  const outputTokens = output?.total ?? sum(output?.text, output?.reasoning)
  if (inputTokens === undefined || outputTokens === undefined) return undefined
  const mapped: TokenUsage = { inputTokens, outputTokens }
  if (input?.cacheRead !== undefined) mapped.cacheReadTokens = input.cacheRead
  if (input?.cacheWrite !== undefined) mapped.cacheWriteTokens = input.cacheWrite
  if (output?.reasoning !== undefined) mapped.reasoningTokens = output.reasoning
  return mapped
}
