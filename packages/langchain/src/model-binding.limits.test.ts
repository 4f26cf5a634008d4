// requestedOutputTokens, the one rule for what a call asks the provider for: the model's own
// limits (its fields, its kwargs, what it reports) for each of its choices, and the limits of
// the API fields the request sends for each of theirs; the larger of the two.
import { ChatOpenAI } from '@langchain/openai'
import { describe, expect, it } from 'vitest'
import { requestedOutputTokens } from './model-binding.js'

const chat = (fields: object) =>
  new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', ...fields })

describe('requestedOutputTokens', () => {
  it('is undefined when nothing sets a limit', () => {
    expect(requestedOutputTokens(undefined)).toBeUndefined()
    expect(requestedOutputTokens(undefined, undefined, { model: 'gpt-4o' })).toBeUndefined()
    expect(requestedOutputTokens(chat({}), undefined, {})).toBeUndefined()
  })

  it("counts the request's own limit once for each of its n choices", () => {
    expect(requestedOutputTokens(undefined, undefined, { max_tokens: 1_000, n: 3 })).toBe(3_000)
    expect(requestedOutputTokens(undefined, 500, { max_tokens: 1_000, n: 3 })).toBe(3_000)
    expect(requestedOutputTokens(undefined, 5_000, { max_tokens: 1_000, n: 3 })).toBe(5_000)
    expect(requestedOutputTokens(undefined, undefined, { max_completion_tokens: 700 })).toBe(700)
  })

  it("counts the model's own limit once for each of its choices", () => {
    const model = chat({ maxTokens: 400, n: 4 })
    expect(requestedOutputTokens(model, undefined)).toBe(1_600)
    expect(requestedOutputTokens(model, undefined, { max_tokens: 100 })).toBe(1_600)
    expect(requestedOutputTokens(model, undefined, { max_tokens: 1_000, n: 2 })).toBe(2_000)
  })

  it('rounds fractional limits up and ignores what is no limit', () => {
    expect(requestedOutputTokens(undefined, undefined, { max_tokens: 10.2, n: 0 })).toBe(11)
    const none = { max_tokens: -5, max_completion_tokens: 'x', max_output_tokens: Infinity }
    expect(requestedOutputTokens(undefined, undefined, none)).toBeUndefined()
  })
})
