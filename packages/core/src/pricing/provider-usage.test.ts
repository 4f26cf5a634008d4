import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { withProviderUsage } from './provider-usage.js'

describe('counts from the provider metadata (Anthropic)', () => {
  it("completes a usage that left the cache writes out (an AI SDK 5 model's)", () => {
    const usage = { inputTokens: 50, cacheReadTokens: 1_000, outputTokens: 200 }
    const metadata = {
      anthropic: {
        usage: {
          input_tokens: 50,
          cache_read_input_tokens: 1_000,
          cache_creation_input_tokens: 22_000,
        },
      },
    }
    expect(withProviderUsage(usage, metadata)).toEqual({
      inputTokens: 23_050,
      cacheReadTokens: 1_000,
      cacheWriteTokens: 22_000,
      outputTokens: 200,
    })
  })

  it('reads the writes split by TTL, in either spelling', () => {
    const usage = { inputTokens: 50, outputTokens: 200 }
    const snake = { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 700 }
    const camel = { ephemeral5mInputTokens: 300, ephemeral1hInputTokens: 700 }
    for (const metadata of [
      { anthropic: { usage: { input_tokens: 50, cache_creation: snake } } },
      { anthropic: { usage: { input_tokens: 50 }, cacheCreation: camel } },
    ]) {
      expect(withProviderUsage(usage, metadata)).toMatchObject({
        inputTokens: 1_050,
        cacheWriteTokens: 1_000,
      })
    }
  })

  it('keeps the writes made for an hour apart, to price them at their rate', () => {
    const usage = { inputTokens: 50, outputTokens: 200 }
    const ttls = { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 700 }
    expect(
      withProviderUsage(usage, {
        anthropic: { usage: { input_tokens: 50, cache_creation: ttls } },
      }),
    ).toMatchObject({ cacheWriteTokens: 1_000, longCacheWriteTokens: 700 })
    // Mastra's camel-cased copy.
    expect(
      withProviderUsage(usage, {
        anthropic: { usage: { input_tokens: 50 }, cacheCreation: { ephemeral1hInputTokens: 700 } },
      }),
    ).toMatchObject({ longCacheWriteTokens: 700 })
  })

  it('never lowers a count, whatever the metadata says (property)', () => {
    const count = fc.option(fc.nat({ max: 1e7 }), { nil: undefined })
    const junk = fc.oneof(count, fc.constant(-1), fc.constant(Number.NaN), fc.constant('12'))
    fc.assert(
      fc.property(
        fc.record({
          inputTokens: fc.nat({ max: 1e7 }),
          cacheReadTokens: count,
          cacheWriteTokens: count,
        }),
        fc.record({
          input_tokens: junk,
          cache_read_input_tokens: junk,
          cache_creation_input_tokens: junk,
        }),
        junk,
        (counts, usage, creation) => {
          const reported = { ...counts, outputTokens: 10 }
          const merged = withProviderUsage(reported, {
            anthropic: { usage, cacheCreationInputTokens: creation },
          })
          expect(merged.inputTokens).toBeGreaterThanOrEqual(reported.inputTokens)
          expect(merged.cacheReadTokens ?? 0).toBeGreaterThanOrEqual(reported.cacheReadTokens ?? 0)
          expect(merged.cacheWriteTokens ?? 0).toBeGreaterThanOrEqual(
            reported.cacheWriteTokens ?? 0,
          )
          expect(merged.outputTokens).toBe(10)
        },
      ),
    )
  })

  it('returns the usage itself without such metadata', () => {
    const usage = { inputTokens: 1_200, outputTokens: 300 }
    expect(withProviderUsage(usage, undefined)).toBe(usage)
    expect(withProviderUsage(usage, { openai: { cachedPromptTokens: 5_000 } })).toBe(usage)
  })
})

describe('counts from the provider metadata (Amazon Bedrock)', () => {
  const metadata = (usage: Record<string, number>) => ({ bedrock: { usage } })

  it("adds an AI SDK 5 model's cache writes (in its metadata alone) to its uncached input", () => {
    // @ai-sdk/amazon-bedrock@2: usage.inputTokens leaves the cache out, the writes are only
    // in providerMetadata.bedrock.usage.
    const usage = { inputTokens: 50, cacheReadTokens: 1_000, outputTokens: 200 }
    expect(
      withProviderUsage(
        usage,
        metadata({ cacheReadInputTokens: 1_000, cacheWriteInputTokens: 22_000 }),
      ),
    ).toMatchObject({ inputTokens: 23_050, cacheReadTokens: 1_000, cacheWriteTokens: 22_000 })
  })

  it('only compares with a usage that counts its writes (AI SDK 6+), and ignores metadata without writes', () => {
    const counted = {
      inputTokens: 23_050,
      cacheReadTokens: 1_000,
      cacheWriteTokens: 22_000,
      outputTokens: 200,
    }
    expect(withProviderUsage(counted, metadata({ cacheWriteInputTokens: 22_000 }))).toEqual(counted)
    const plain = { inputTokens: 1_050, cacheReadTokens: 1_000, outputTokens: 200 }
    expect(withProviderUsage(plain, metadata({ cacheReadInputTokens: 1_000 }))).toEqual(plain)
    expect(withProviderUsage(plain, metadata({ cacheWriteInputTokens: 0 }))).toEqual(plain)
  })
})
