// The output limit of API fields in the providers' wire formats: read by every spelling, and
// clamped with the thinking budget inside it.
import { describe, expect, it } from 'vitest'
import {
  clampWireOutputLimit,
  largestCount,
  requestedOutputTokensIn,
  thinkingBelow,
  wireOutputLimit,
} from './wire-output-limit.js'

describe('largestCount', () => {
  it('takes the largest count, rounded up to a whole one', () => {
    expect(largestCount(100, 300.2, 200)).toBe(301)
  })

  it('reads anything but a positive finite number as no limit', () => {
    expect(largestCount(0, -5, Number.NaN, Number.POSITIVE_INFINITY, '500', null)).toBeUndefined()
    expect(largestCount()).toBeUndefined()
    expect(largestCount('500', 7)).toBe(7)
  })
})

describe('wireOutputLimit', () => {
  it.each<[string, unknown, number | undefined]>([
    ['OpenAI chat', { max_completion_tokens: 60_000 }, 60_000],
    ['Responses', { max_output_tokens: 1_000 }, 1_000],
    ['Anthropic', { max_tokens: 901 }, 901],
    ['the largest spelling', { max_tokens: 100, max_completion_tokens: 300 }, 300],
    ['no limit', { temperature: 0 }, undefined],
    ['not a bag of fields', 'max_tokens', undefined],
    ['nothing', undefined, undefined],
  ])('%s', (_, fields, limit) => {
    expect(wireOutputLimit(fields)).toBe(limit)
  })
})

describe('requestedOutputTokensIn', () => {
  it('asks for the limit once per choice', () => {
    expect(requestedOutputTokensIn({ max_tokens: 100, n: 3 })).toBe(300)
    expect(requestedOutputTokensIn({ max_tokens: 100, n: 0 })).toBe(100)
  })

  it('asks for nothing without a limit, whatever the choices', () => {
    expect(requestedOutputTokensIn({ n: 3 })).toBeUndefined()
    expect(requestedOutputTokensIn(undefined)).toBeUndefined()
  })
})

describe('thinkingBelow', () => {
  it('lowers a budget at or past the limit to just below it (at least 1)', () => {
    expect(thinkingBelow({ type: 'enabled', budget_tokens: 1_000 }, 1_000)).toEqual({
      type: 'enabled',
      budget_tokens: 999,
    })
    expect(thinkingBelow({ type: 'enabled', budget_tokens: 10 }, 1)).toEqual({
      type: 'enabled',
      budget_tokens: 1,
    })
  })

  it('keeps a budget below the limit, and a setting without one, as they are', () => {
    const thinking = { type: 'enabled', budget_tokens: 500 }
    expect(thinkingBelow(thinking, 1_000)).toBe(thinking)
    expect(thinkingBelow({ type: 'disabled' }, 1)).toEqual({ type: 'disabled' })
    expect(thinkingBelow(null, 1)).toBeNull()
  })
})

describe('clampWireOutputLimit', () => {
  it('lowers every limit past the clamp and the thinking budget inside it', () => {
    const fields = {
      max_tokens: 8_000,
      max_completion_tokens: 500,
      thinking: { type: 'enabled', budget_tokens: 4_000 },
      temperature: 0,
    }
    expect(clampWireOutputLimit(fields, 1_000)).toEqual({
      max_tokens: 1_000,
      max_completion_tokens: 500,
      thinking: { type: 'enabled', budget_tokens: 999 },
      temperature: 0,
    })
    expect(fields.max_tokens).toBe(8_000) // a copy: the caller's fields are not changed
  })

  it('returns what is not a bag of fields as it is', () => {
    expect(clampWireOutputLimit(undefined, 10)).toBeUndefined()
    expect(clampWireOutputLimit(null, 10)).toBeNull()
  })
})
