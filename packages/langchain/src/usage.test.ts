import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toTokenUsage } from './usage.js'

const count = fc.nat({ max: 10_000_000 })

describe('toTokenUsage', () => {
  it('maps every LangChain usage field onto the core field of the same meaning', () => {
    fc.assert(
      fc.property(count, count, count, count, count, (input, output, read, write, reasoning) => {
        const usage = toTokenUsage({
          input_tokens: input,
          output_tokens: output,
          total_tokens: input + output,
          input_token_details: { cache_read: read, cache_creation: write },
          output_token_details: { reasoning },
        })
        expect(usage).toEqual({
          inputTokens: input,
          outputTokens: output,
          cacheReadTokens: read,
          cacheWriteTokens: write,
          reasoningTokens: reasoning,
        })
      }),
    )
  })

  it('leaves out details the provider did not report', () => {
    expect(toTokenUsage({ input_tokens: 10, output_tokens: 2, total_tokens: 12 })).toEqual({
      inputTokens: 10,
      outputTokens: 2,
    })
  })

  it('returns undefined for missing or malformed usage, so the whole hold is settled', () => {
    expect(toTokenUsage(undefined)).toBeUndefined()
    expect(toTokenUsage(null)).toBeUndefined()
    const malformed = [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY]
    for (const bad of malformed) {
      expect(toTokenUsage({ input_tokens: bad, output_tokens: 1, total_tokens: 1 })).toBeUndefined()
      expect(toTokenUsage({ input_tokens: 1, output_tokens: bad, total_tokens: 1 })).toBeUndefined()
    }
  })
})
