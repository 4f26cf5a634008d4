// What a provider billed beyond the usage a framework hands over: counts it reports only in
// its own metadata (Anthropic's raw Messages usage, Amazon Bedrock's Converse usage). Read
// here once for every adapter: the AI SDK's and Mastra's pass `providerMetadata` as those
// SDKs carry it. Larger, never smaller: a count the usage left out is spent money.
import type { TokenUsage } from '../guard-types.js'

const sum = (...parts: Array<number | undefined>): number | undefined =>
  parts.some((part) => part !== undefined)
    ? parts.reduce<number>((total, part) => total + (part ?? 0), 0)
    : undefined

/** A count as a provider really reports one: a whole number >= 0. */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)
    : undefined
}

/** The largest of the counts given, or undefined when none is one. */
function largest(...values: unknown[]): number | undefined {
  const counts = values.map(count).filter((value) => value !== undefined)
  return counts.length > 0 ? Math.max(...counts) : undefined
}

/** The larger of a reported count and the metadata's; the reported one as is without it. */
function atLeast(reported: number | undefined, known: number | undefined): number | undefined {
  return known === undefined ? reported : (largest(reported, known) ?? known)
}

/**
 * What Anthropic bills from, as its Messages API reported it (`providerMetadata.anthropic`):
 * the raw `usage` (`input_tokens` is the uncached input alone; cache writes also split by
 * TTL in `cache_creation`) and `cacheCreationInputTokens`. @ai-sdk/anthropic@2 (AI SDK 5,
 * spec V2) puts its cache writes nowhere else: its usage has only the uncached input and
 * the cache reads, and `ai` converts that to a V4 usage with no cache write at all.
 */
function anthropicCounts(providerMetadata: unknown) {
  const anthropic = record(record(providerMetadata)?.anthropic)
  if (anthropic === undefined) return undefined
  const raw = record(anthropic.usage)
  // By TTL: the raw usage's, or the camel-cased copy some versions give (as Mastra reads it).
  const byTtl = (ttls: Record<string, unknown> | undefined) =>
    ttls &&
    sum(
      count(ttls.ephemeral_5m_input_tokens ?? ttls.ephemeral5mInputTokens),
      count(ttls.ephemeral_1h_input_tokens ?? ttls.ephemeral1hInputTokens),
    )
  const oneHour = (ttls: Record<string, unknown> | undefined) =>
    ttls && count(ttls.ephemeral_1h_input_tokens ?? ttls.ephemeral1hInputTokens)
  return {
    uncached: count(raw?.input_tokens),
    cacheRead: count(raw?.cache_read_input_tokens),
    longCacheWrite: largest(
      oneHour(record(raw?.cache_creation)),
      oneHour(record(anthropic.cacheCreation)),
    ),
    cacheWrite: largest(
      anthropic.cacheCreationInputTokens,
      raw?.cache_creation_input_tokens,
      byTtl(record(raw?.cache_creation)),
      byTtl(record(anthropic.cacheCreation)),
    ),
  }
}

/**
 * What Amazon Bedrock's Converse API reported (`providerMetadata.bedrock.usage`, as
 * @ai-sdk/amazon-bedrock@2 gives it; read from its source, the package is not installed
 * here): its cache writes are there alone, and its `inputTokens` (the usage's) leave both
 * cache counts out. A usage without a cache write count is that one: its input is the
 * uncached part. One that has a count (AI SDK 6+) is only compared, never added to.
 */
function bedrockCounts(providerMetadata: unknown, usage: TokenUsage) {
  const raw = record(record(record(providerMetadata)?.bedrock)?.usage)
  if (raw === undefined) return undefined
  const cacheWrite = count(raw.cacheWriteInputTokens)
  // Nothing written: nothing the usage can have left out (its reads it reports itself).
  if (cacheWrite === undefined || cacheWrite === 0) return undefined
  const cacheRead = count(raw.cacheReadInputTokens)
  const uncached = usage.cacheWriteTokens === undefined ? count(usage.inputTokens) : undefined
  return { uncached, cacheRead, cacheWrite, longCacheWrite: undefined }
}

/**
 * The usage completed with what the provider's metadata says it billed: each cache count
 * is the larger of the usage's and the metadata's, and the input at least the uncached
 * input plus both cache counts. Larger, never smaller: a count the usage left out (an AI
 * SDK 5 Anthropic model's cache writes, billed at 1.25x or 2x input) is spent money, and a
 * usage that already holds it (AI SDK 6+, whose input total includes the cache) is
 * unchanged, never counted twice. Without such metadata the usage is returned as is.
 *
 * @example
 * withProviderUsage(
 *   { inputTokens: 50, cacheReadTokens: 0, outputTokens: 200 },
 *   { anthropic: { usage: { input_tokens: 50, cache_creation_input_tokens: 22_000 } } },
 * ) // { inputTokens: 22_050, cacheReadTokens: 0, cacheWriteTokens: 22_000, outputTokens: 200 }
 */
export function withProviderUsage(usage: TokenUsage, providerMetadata: unknown): TokenUsage {
  const known = anthropicCounts(providerMetadata) ?? bedrockCounts(providerMetadata, usage)
  if (known === undefined) return usage
  const cacheReadTokens = atLeast(usage.cacheReadTokens, known.cacheRead)
  const cacheWriteTokens = atLeast(usage.cacheWriteTokens, known.cacheWrite)
  const billed =
    known.uncached === undefined
      ? undefined
      : known.uncached + (count(cacheReadTokens) ?? 0) + (count(cacheWriteTokens) ?? 0)
  const merged = {
    ...usage,
    inputTokens: atLeast(usage.inputTokens, billed),
    cacheReadTokens,
    cacheWriteTokens,
  }
  // The part written for an hour (Anthropic splits its writes by lifetime): priced at its rate.
  const longCacheWriteTokens = atLeast(usage.longCacheWriteTokens, known.longCacheWrite)
  if (longCacheWriteTokens !== undefined) merged.longCacheWriteTokens = longCacheWriteTokens
  return merged
}
