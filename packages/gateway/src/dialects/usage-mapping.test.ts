// Each API's usage block maps onto TokenUsage: cached tokens inside the input, reasoning
// tokens inside the output, Anthropic's cache reads and writes added to its input.
import { describe, expect, it } from 'vitest'
import { anthropicMessages } from './anthropic-messages.js'
import { openaiChat } from './openai-chat.js'
import { openaiResponses } from './openai-responses.js'

describe('usage mapping', () => {
  it('chat completions: prompt/completion tokens with cached and reasoning details', () => {
    expect(
      openaiChat.usageOf({
        usage: {
          prompt_tokens: 1_200,
          completion_tokens: 300,
          prompt_tokens_details: { cached_tokens: 800 },
          completion_tokens_details: { reasoning_tokens: 120 },
        },
      }),
    ).toEqual({ inputTokens: 1_200, outputTokens: 300, cacheReadTokens: 800, reasoningTokens: 120 })
  })

  it('cache writes, where the model prices them, settle at their rate on both APIs', () => {
    const chat = { prompt_tokens: 100_000, prompt_tokens_details: { cache_write_tokens: 99_000 } }
    const responses = {
      input_tokens: 100_000,
      input_tokens_details: { cache_write_tokens: 99_000 },
    }
    for (const usage of [
      openaiChat.usageOf({ usage: chat }),
      openaiResponses.usageOf({ usage: responses }),
    ]) {
      expect(usage).toEqual({ inputTokens: 100_000, cacheWriteTokens: 99_000 })
    }
  })

  it('responses: input/output tokens with details, from the whole response and the completed event', () => {
    const usage = {
      input_tokens: 50,
      input_tokens_details: { cached_tokens: 10 },
      output_tokens: 70,
      output_tokens_details: { reasoning_tokens: 64 },
    }
    const expected = { inputTokens: 50, outputTokens: 70, cacheReadTokens: 10, reasoningTokens: 64 }
    expect(openaiResponses.usageOf({ usage })).toEqual(expected)
    const reader = openaiResponses.streamReader({})
    reader.read({
      event: 'response.completed',
      data: JSON.stringify({ type: 'response.completed', response: { usage } }),
      raw: '',
    })
    expect(reader.usage()).toEqual(expected)
  })

  it('anthropic: the cache writes made for an hour are kept apart (priced at their rate)', () => {
    const usage = {
      input_tokens: 200,
      cache_creation_input_tokens: 1_000,
      cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 700 },
      output_tokens: 5,
    }
    expect(anthropicMessages.usageOf({ usage })).toMatchObject({
      inputTokens: 1_200,
      cacheWriteTokens: 1_000,
      longCacheWriteTokens: 700,
    })
  })

  it('anthropic: cache reads and writes are added to input; message_delta totals override message_start', () => {
    expect(
      anthropicMessages.usageOf({
        usage: {
          input_tokens: 200,
          cache_read_input_tokens: 1_500,
          cache_creation_input_tokens: 400,
          output_tokens: 250,
        },
      }),
    ).toEqual({
      inputTokens: 2_100,
      cacheReadTokens: 1_500,
      cacheWriteTokens: 400,
      outputTokens: 250,
    })
    const reader = anthropicMessages.streamReader({})
    const event = (data: object) => ({ event: undefined, data: JSON.stringify(data), raw: '' })
    reader.read(
      event({
        type: 'message_start',
        message: { usage: { input_tokens: 30, cache_read_input_tokens: 5, output_tokens: 1 } },
      }),
    )
    // message_start's output_tokens is a placeholder: cut here, the output is not known.
    expect(reader.usage()).toEqual({ inputTokens: 35, cacheReadTokens: 5, cacheWriteTokens: 0 })
    expect(
      reader.read(
        event({ type: 'content_block_delta', delta: { type: 'thinking_delta', thinking: 'hmm' } }),
      ).text,
    ).toBe('hmm')
    expect(
      reader.read(
        event({
          type: 'content_block_delta',
          delta: { type: 'input_json_delta', partial_json: '{"q"' },
        }),
      ).text,
    ).toBe('{"q"')
    reader.read(event({ type: 'message_delta', usage: { output_tokens: 90 } }))
    expect(reader.usage()).toEqual({
      inputTokens: 35,
      cacheReadTokens: 5,
      cacheWriteTokens: 0,
      outputTokens: 90,
    })
  })

  it('a stream without usage reports none (the core then charges the hold)', () => {
    const reader = openaiChat.streamReader({ stream: true })
    reader.read({
      event: undefined,
      data: JSON.stringify({ choices: [{ delta: { content: 'x' } }] }),
      raw: '',
    })
    expect(reader.usage()).toBeUndefined()
  })

  it('counts tool-call arguments and refusals in chat streams as output', () => {
    const reader = openaiChat.streamReader({})
    const step = reader.read({
      event: undefined,
      data: JSON.stringify({
        choices: [
          { delta: { tool_calls: [{ function: { name: 'search', arguments: '{"q":1}' } }] } },
        ],
      }),
      raw: '',
    })
    expect(step.text).toBe('search{"q":1}')
  })
})
