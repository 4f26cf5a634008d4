import { calcPrice } from '@pydantic/genai-prices'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../errors.js'
import {
  affordableOutputTokens,
  costBound,
  costOfUsage,
  inputTokenBound,
  leastInputTokens,
  REQUEST_OVERHEAD_TOKENS,
} from './cost.js'
import { createPriceSource } from './price-source.js'

const prices = createPriceSource()

describe('pricing against @pydantic/genai-prices', () => {
  const models = [
    { model: 'gpt-4o', provider: 'openai' },
    { model: 'gpt-4o-mini', provider: 'openai' },
    // Tiered past 200k in the data (claude-sonnet-4-0 is too, by the core's correction).
    { model: 'claude-sonnet-4-5', provider: 'anthropic' },
    { model: 'o3-mini', provider: 'openai' },
  ]

  it.each(models)(
    'prices $model like calcPrice, cache and reasoning included (to the micro-dollar)',
    ({ model, provider }) => {
      const rates = prices.resolve(model, provider)
      expect(rates).toBeDefined()
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 150_000 }),
          fc.integer({ min: 0, max: 50_000 }),
          fc.integer({ min: 0, max: 50_000 }),
          fc.integer({ min: 0, max: 30_000 }),
          fc.integer({ min: 0, max: 30_000 }),
          (uncached, cacheRead, cacheWrite, text, reasoning) => {
            const input = uncached + cacheRead + cacheWrite
            const output = text + reasoning
            const ours = costOfUsage(
              {
                inputTokens: input,
                cacheReadTokens: cacheRead,
                cacheWriteTokens: cacheWrite,
                outputTokens: output,
                reasoningTokens: reasoning,
              },
              rates!,
            )
            const theirs = calcPrice(
              {
                input_tokens: input,
                cache_read_tokens: cacheRead,
                cache_write_tokens: cacheWrite,
                output_tokens: output,
                output_reasoning_tokens: reasoning,
              },
              model,
              { providerId: provider },
            )
            const expected = (theirs?.total_price ?? Number.NaN) * 1_000_000
            // Integer micro-dollars, rounded up: never below the library's price, at most 1 micro above.
            expect(ours).toBeGreaterThanOrEqual(Math.floor(expected - 1e-6))
            expect(ours - expected).toBeLessThanOrEqual(1 + 1e-6)
          },
        ),
        { numRuns: 200 },
      )
    },
  )

  it('resolves provider-prefixed ids and AI SDK provider names', () => {
    expect(prices.resolve('openai/gpt-4o')?.priceId).toBe(
      prices.resolve('gpt-4o', 'openai')?.priceId,
    )
    expect(prices.resolve('gpt-4o', 'openai.chat')).toBeDefined()
    expect(prices.resolve('anthropic/claude-sonnet-4-0')).toBeDefined()
  })

  it('knows no price for an unknown model (it is refused, never priced at zero)', () => {
    expect(prices.resolve('my-secret-finetune-v9')).toBeUndefined()
  })
})

describe('price overrides', () => {
  it('prices a model the library does not know, falling back to parent rates for sub-counts', () => {
    const own = createPriceSource({ 'my-model': { inputPerMTok: 2, outputPerMTok: 8 } })
    const rates = own.resolve('my-model')!
    // 1M cache-read tokens fall back to the input rate ($2), 1M reasoning to the output rate ($8).
    expect(
      costOfUsage(
        {
          inputTokens: 1_000_000,
          cacheReadTokens: 1_000_000,
          outputTokens: 1_000_000,
          reasoningTokens: 1_000_000,
        },
        rates,
      ),
    ).toBe(10_000_000)
  })

  it('overrides the bundled price of a known model', () => {
    const own = createPriceSource({ 'gpt-4o': { inputPerMTok: 100, outputPerMTok: 100 } })
    expect(costOfUsage({ inputTokens: 10_000 }, own.resolve('gpt-4o', 'openai')!)).toBe(1_000_000)
  })

  it.each([
    [{ inputPerMTok: -1, outputPerMTok: 1 }, 'prices.m.inputPerMTok'],
    [{ inputPerMTok: 1, outputPerMTok: Number.NaN }, 'prices.m.outputPerMTok'],
    [{ inputPerMTok: 1 } as never, 'prices.m.outputPerMTok'],
    [
      { inputPerMTok: 1, outputPerMTok: 1, cacheReadPerMTok: Number.POSITIVE_INFINITY },
      'prices.m.cacheReadPerMTok',
    ],
  ])('refuses a bad price %j naming the field', (price, field) => {
    try {
      createPriceSource({ m: price })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect((error as InvalidConfigError).field).toBe(field)
      expect((error as Error).message).toContain('inputPerMTok: 2.5')
    }
  })
})

describe('bounds', () => {
  const rates = createPriceSource({
    m: { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75 },
  }).resolve('m')!

  it('bounds text by its UTF-8 bytes as JSON, plus a chat template allowance', () => {
    // A plain string is sent in a chat template too: its 6 bytes plus the template's tokens.
    expect(inputTokenBound('héllo')).toBe(6 + REQUEST_OVERHEAD_TOKENS)
    const prompt = [{ role: 'user', content: 'hi' }]
    const json = JSON.stringify(prompt).length
    expect(inputTokenBound(prompt)).toBeGreaterThanOrEqual(json + REQUEST_OVERHEAD_TOKENS)
    expect(inputTokenBound(prompt)).toBeLessThan(json + REQUEST_OVERHEAD_TOKENS + 8)
  })

  it('never bounds a prompt below the UTF-8 bytes of its text', () => {
    const strings = (value: unknown): string[] =>
      typeof value === 'string'
        ? [value]
        : value && typeof value === 'object'
          ? Object.entries(value).flatMap(([key, item]) => [key, ...strings(item)])
          : []
    fc.assert(
      fc.property(fc.jsonValue(), (prompt) => {
        const text = strings(prompt).join('')
        expect(inputTokenBound(prompt)).toBeGreaterThanOrEqual(Buffer.byteLength(text, 'utf8'))
      }),
    )
  })

  it('gives the largest max output tokens the budget pays for, and not one more', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50_000_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        (available, input) => {
          const n = affordableOutputTokens(available, input, rates)
          if (n === 0) {
            expect(costBound(input, 1, rates)).toBeGreaterThan(available)
          } else {
            expect(costBound(input, n, rates)).toBeLessThanOrEqual(available)
            expect(costBound(input, n + 1, rates)).toBeGreaterThan(available)
          }
        },
      ),
    )
  })

  it('bounds a call by its most expensive input rate (cache writes) and its output rate', () => {
    // 1M input at the $3.75 cache-write rate + 1M output at $15.
    expect(costBound(1_000_000, 1_000_000, rates)).toBe(18_750_000)
  })
})

describe('input bound of framework objects', () => {
  it('sizes an object by its toJSON, as JSON.stringify does', () => {
    const internals = {
      content: 'hello',
      lc_kwargs: { content: 'hello', metadata: 'x'.repeat(1_000) },
    }
    const message = { ...internals, toJSON: () => ({ role: 'user', content: 'hello' }) }
    expect(inputTokenBound([message])).toBeLessThan(60 + REQUEST_OVERHEAD_TOKENS)
    expect(inputTokenBound([message])).toBeGreaterThanOrEqual(JSON.stringify([message]).length)
    expect(inputTokenBound([internals])).toBeGreaterThan(1_000)
  })
})

describe('one-hour cache writes', () => {
  const rates = createPriceSource().resolve('claude-sonnet-4-5', 'anthropic')
  if (!rates) throw new Error('claude-sonnet-4-5 is priced by the bundled data')

  it('prices the writes a usage says were for an hour at the one-hour rate, the rest at five minutes', () => {
    // 1,000 uncached ($3/M), 10,000 written: 4,000 for five minutes ($3.75/M), 6,000 for an
    // hour ($6/M), 100 out ($15/M).
    const usage = {
      inputTokens: 11_000,
      cacheWriteTokens: 10_000,
      longCacheWriteTokens: 6_000,
      outputTokens: 100,
    }
    expect(costOfUsage(usage, rates)).toBe(3_000 + 15_000 + 36_000 + 1_500)
    // Without the split, every write at five minutes (what a request that shows no `ttl` holds).
    const { longCacheWriteTokens: _split, ...plain } = usage
    expect(costOfUsage(plain, rates)).toBe(3_000 + 37_500 + 1_500)
  })

  it('never prices more one-hour writes than writes', () => {
    const usage = { inputTokens: 2_000, cacheWriteTokens: 1_000, longCacheWriteTokens: 5_000 }
    expect(costOfUsage(usage, rates)).toBe(3_000 + 6_000)
  })
})

describe('the least input of a request the provider may truncate', () => {
  it('is none, by bytes or by a tokenizer: what the provider drops is not billed', () => {
    const counter = { count: (text: string) => text.length }
    const long = 'The quarterly report shows revenue up. '.repeat(500)
    const sent = { prompt: [{ role: 'user', content: long }] }
    expect(leastInputTokens(sent, { counter })).toBeGreaterThan(10_000)
    const truncated = { ...sent, options: { openai: { truncation: 'auto' } } }
    expect(leastInputTokens(truncated, { counter })).toBe(0)
    expect(leastInputTokens(truncated)).toBe(0)
  })
})
