// V4 usage to TokenUsage, and the money that follows: cache reads, cache writes and reasoning
// priced as genai-prices prices them, through the generate and the stream paths.
import type { LanguageModelV4Usage } from '@ai-sdk/provider'
import { toMicros } from '@killswitch/core'
import { calcPrice } from '@pydantic/genai-prices'
import { generateText, streamText } from 'ai'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { withKillSwitch } from './kill-switch-middleware.js'
import { scriptedModel, v4Usage } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'
import { toTokenUsage } from './usage.js'

describe('toTokenUsage', () => {
  it('maps nested V4 usage to flat counts, cache and reasoning included in the totals', () => {
    expect(
      toTokenUsage(v4Usage(1200, 300, { cacheRead: 800, cacheWrite: 100, reasoning: 200 })),
    ).toEqual({
      inputTokens: 1200,
      cacheReadTokens: 800,
      cacheWriteTokens: 100,
      outputTokens: 300,
      reasoningTokens: 200,
    })
  })

  it('adds up the parts when a provider leaves the totals out', () => {
    const usage: LanguageModelV4Usage = {
      inputTokens: { total: undefined, noCache: 100, cacheRead: 900, cacheWrite: undefined },
      outputTokens: { total: undefined, text: 50, reasoning: 25 },
    }
    expect(toTokenUsage(usage)).toEqual({
      inputTokens: 1000,
      cacheReadTokens: 900,
      outputTokens: 75,
      reasoningTokens: 25,
    })
  })

  it('gives no usage when input or output is unknown: a missing count is not a zero', () => {
    const unknownOutput: LanguageModelV4Usage = {
      inputTokens: { total: 100, noCache: 100, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: undefined, text: undefined, reasoning: undefined },
    }
    expect(toTokenUsage(unknownOutput)).toBeUndefined()
    expect(toTokenUsage(undefined)).toBeUndefined()
  })

  it('never reports fewer tokens than the provider did (property)', () => {
    const count = fc.option(fc.nat({ max: 1e7 }), { nil: undefined })
    fc.assert(
      fc.property(
        count,
        count,
        count,
        count,
        count,
        count,
        (noCache, cacheRead, cacheWrite, text, reasoning, total) => {
          const usage: LanguageModelV4Usage = {
            inputTokens: { total, noCache, cacheRead, cacheWrite },
            outputTokens: { total: undefined, text, reasoning },
          }
          const mapped = toTokenUsage(usage)
          if (mapped === undefined) return
          const parts = (noCache ?? 0) + (cacheRead ?? 0) + (cacheWrite ?? 0)
          expect(mapped.inputTokens).toBe(total ?? parts)
          expect(mapped.outputTokens).toBe((text ?? 0) + (reasoning ?? 0))
          expect(mapped.cacheReadTokens ?? 0).toBe(cacheRead ?? 0)
          expect(mapped.reasoningTokens ?? 0).toBe(reasoning ?? 0)
        },
      ),
    )
  })
})

describe('counts from the provider metadata (Anthropic)', () => {
  // One Messages API usage as the two SDK generations give it: @ai-sdk/anthropic@4 folds the
  // cache into its V4 usage; @ai-sdk/anthropic@2's V2 usage (as ai 7 converts it) has the
  // uncached input and the reads alone. Both carry the raw usage in their metadata.
  const raw = (input: number, read: number, write: number, output: number) => ({
    input_tokens: input,
    cache_read_input_tokens: read,
    cache_creation_input_tokens: write,
    output_tokens: output,
  })
  const metadata = (usage: ReturnType<typeof raw>) => ({
    anthropic: { usage, cacheCreationInputTokens: usage.cache_creation_input_tokens },
  })
  const v4 = (usage: ReturnType<typeof raw>): LanguageModelV4Usage => {
    const { input_tokens: input, cache_read_input_tokens: read } = usage
    const write = usage.cache_creation_input_tokens
    return {
      inputTokens: {
        total: input + read + write,
        noCache: input,
        cacheRead: read,
        cacheWrite: write,
      },
      outputTokens: { total: usage.output_tokens, text: undefined, reasoning: undefined },
    }
  }
  const v2 = (usage: ReturnType<typeof raw>): LanguageModelV4Usage => ({
    inputTokens: {
      total: usage.input_tokens,
      noCache: undefined,
      cacheRead: usage.cache_read_input_tokens,
      cacheWrite: undefined,
    },
    outputTokens: { total: usage.output_tokens, text: undefined, reasoning: undefined },
  })

  it("adds an AI SDK 5 model's cache writes, and its uncached input to its reads", () => {
    const usage = raw(50, 1_000, 22_000, 200)
    expect(toTokenUsage(v2(usage), metadata(usage))).toEqual({
      inputTokens: 23_050,
      cacheReadTokens: 1_000,
      cacheWriteTokens: 22_000,
      outputTokens: 200,
    })
  })

  it('reads the writes (and those for an hour) from the TTL split, or cacheCreationInputTokens alone', () => {
    const usage = v2(raw(50, 0, 0, 200))
    const split = { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 700 }
    const byTtl = { anthropic: { usage: { input_tokens: 50, cache_creation: split } } }
    // The writes made for an hour kept apart, to be priced at their rate.
    expect(toTokenUsage(usage, byTtl)).toMatchObject({
      inputTokens: 1_050,
      cacheWriteTokens: 1_000,
      longCacheWriteTokens: 700,
    })
    // Without the raw usage the uncached input is unknown: the core prices the input at
    // least as its cache parts (costOfUsage).
    const alone = { anthropic: { cacheCreationInputTokens: 1_000 } }
    expect(toTokenUsage(usage, alone)).toMatchObject({ inputTokens: 50, cacheWriteTokens: 1_000 })
  })

  it('both generations settle the same counts; a V4 usage is never counted twice (property)', () => {
    const count = fc.nat({ max: 1e7 })
    fc.assert(
      fc.property(count, count, count, count, (input, read, write, output) => {
        const usage = raw(input, read, write, output)
        const expected = toTokenUsage(v4(usage))
        expect(toTokenUsage(v4(usage), metadata(usage))).toEqual(expected)
        expect(toTokenUsage(v2(usage), metadata(usage))).toEqual(expected)
      }),
    )
  })

  it('never reports fewer tokens than the usage, whatever the metadata says (property)', () => {
    const count = fc.option(fc.nat({ max: 1e7 }), { nil: undefined })
    const junk = fc.oneof(count, fc.constant(-1), fc.constant(Number.NaN), fc.constant('12'))
    fc.assert(
      fc.property(
        fc.tuple(count, count, count, fc.nat({ max: 1e7 })),
        fc.record({
          input_tokens: junk,
          cache_read_input_tokens: junk,
          cache_creation_input_tokens: junk,
        }),
        junk,
        ([total, read, write, output], usage, creation) => {
          const reported: LanguageModelV4Usage = {
            inputTokens: { total, noCache: undefined, cacheRead: read, cacheWrite: write },
            outputTokens: { total: output, text: undefined, reasoning: undefined },
          }
          const plain = toTokenUsage(reported)
          const merged = toTokenUsage(reported, {
            anthropic: { usage, cacheCreationInputTokens: creation },
          })
          if (plain === undefined) return
          expect(merged?.inputTokens).toBeGreaterThanOrEqual(plain.inputTokens ?? 0)
          expect(merged?.cacheReadTokens ?? 0).toBeGreaterThanOrEqual(plain.cacheReadTokens ?? 0)
          expect(merged?.cacheWriteTokens ?? 0).toBeGreaterThanOrEqual(plain.cacheWriteTokens ?? 0)
          expect(merged?.outputTokens).toBe(plain.outputTokens)
        },
      ),
    )
  })

  it('leaves the usage as it is without Anthropic metadata', () => {
    const usage = v4Usage(1_200, 300, { cacheRead: 1_000 })
    expect(toTokenUsage(usage, { openai: { cachedPromptTokens: 5_000 } })).toEqual(
      toTokenUsage(usage),
    )
  })
})

describe('pricing through the middleware', () => {
  // Real model ids from the bundled price data, no overrides: what a user's bill would say.
  const cases = [
    {
      modelId: 'claude-sonnet-4-0',
      provider: 'anthropic.messages',
      providerId: 'anthropic',
      usage: v4Usage(10_000, 3_000, { cacheRead: 6_000, cacheWrite: 2_000, reasoning: 2_000 }),
    },
    {
      modelId: 'gpt-4o',
      provider: 'openai.chat',
      providerId: 'openai',
      usage: v4Usage(10_000, 1_500, { cacheRead: 8_000 }),
    },
  ]
  // The prompt is as long as the input the usage reports: a real prompt's bytes bound its
  // tokens, so the hold covers the reported usage.
  const prompt = 'x'.repeat(12_000)

  for (const { modelId, provider, providerId, usage } of cases) {
    const expected = calcPrice(
      {
        input_tokens: usage.inputTokens.total,
        cache_read_tokens: usage.inputTokens.cacheRead,
        cache_write_tokens: usage.inputTokens.cacheWrite,
        output_tokens: usage.outputTokens.total,
      },
      modelId,
      { providerId },
    )

    for (const path of ['generate', 'stream'] as const) {
      it(`${modelId} (${path}): settles what genai-prices charges, to the micro-dollar`, async () => {
        expect(expected).not.toBeNull()
        const agent = await testAgent(50, { prices: {} })
        const model = withKillSwitch(
          scriptedModel(() => ({ text: 'ok', usage }), { modelId, provider }),
          {
            killSwitch: agent.ks,
            credential: agent.credential,
          },
        )
        if (path === 'generate') await generateText({ model, prompt })
        else await streamText({ model, prompt }).text
        const { spent, held } = await agent.ledger()
        expect(held).toBe(0)
        // The core rounds each call up to the next micro-dollar: never under the bill.
        const bill = (expected?.total_price ?? Number.NaN) * 1e6
        expect(spent).toBeGreaterThanOrEqual(Math.floor(bill))
        expect(spent).toBeLessThanOrEqual(Math.ceil(bill) + 1)
        expect(spent).toBeGreaterThan(toMicros(0.001))
      })
    }
  }
})
