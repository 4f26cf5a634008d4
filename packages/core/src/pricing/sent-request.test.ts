// What the provider was sent, read in the APIs' own fields, against a hold.
import { describe, expect, it } from 'vitest'
import { beyondHold } from './sent-request.js'

describe('beyondHold', () => {
  it.each<[string, unknown, string]>([
    [
      'an OpenAI chat limit',
      { max_completion_tokens: 60_000 },
      'max_completion_tokens 60000 (900 held)',
    ],
    ['a Responses limit', { max_output_tokens: 1_000 }, 'max_output_tokens 1000 (900 held)'],
    [
      'an Anthropic max_tokens (thinking included)',
      { max_tokens: 901 },
      'max_tokens 901 (900 held)',
    ],
    ['n choices', { max_tokens: 400, n: 3 }, 'max_tokens 400 x 3 choices (900 held)'],
    [
      'a Gemini config',
      { generationConfig: { maxOutputTokens: 2_000 } },
      'generationConfig.maxOutputTokens 2000 (900 held)',
    ],
    ['a priority tier', { max_tokens: 10, service_tier: 'priority' }, 'service_tier "priority"'],
    [
      'a tool the provider runs',
      { max_tokens: 10, tools: [{ type: 'web_search' }] },
      'tool "web_search" the provider runs itself',
    ],
    ['a JSON string body', JSON.stringify({ max_tokens: 5_000 }), 'max_tokens 5000 (900 held)'],
  ])('names %s', (_name, body, named) => {
    expect(beyondHold(body, 900)).toBe(named)
  })

  it.each<[string, unknown]>([
    [
      'a request within the hold',
      { max_tokens: 900, service_tier: 'auto', tools: [{ type: 'function' }] },
    ],
    ['no body', undefined],
    ['a body that is not JSON', 'not json'],
    ['an array', [1, 2]],
    ['a limit that is not a number', { max_tokens: '5000' }],
  ])('passes %s', (_name, body) => {
    expect(beyondHold(body, 900)).toBeUndefined()
  })
})
