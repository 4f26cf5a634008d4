import { inputTokenBound } from '@killswitch/core'
import { AIMessage, HumanMessage, SystemMessage } from '@langchain/core/messages'
import fc from 'fast-check'
import { createAgent } from 'langchain'
import { describe, expect, it } from 'vitest'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { modelInput, sentContent, toTokenUsage } from './model-io.js'
import { fakeChatModel, guardedBy, TEST_MODEL, testAgent } from './testing/test-kit.js'

const count = fc.nat({ max: 10_000_000 })

describe('modelInput', () => {
  const messages = [new HumanMessage('What is in the picture?')]
  const image = { type: 'image_url', image_url: { url: 'https://example.com/chart.png' } }

  it('sizes a system message without text (an image) as media: bounded by the context window', () => {
    const systemMessage = new SystemMessage({ content: [image] })
    const bound = inputTokenBound(modelInput({ systemMessage, messages }), {
      contextWindow: 128_000,
    })
    expect(bound).toBeGreaterThanOrEqual(128_000)
  })

  it('leaves out the empty system message createAgent passes when it has no prompt', () => {
    const plain = modelInput({ messages })
    expect(modelInput({ systemMessage: new SystemMessage(''), messages })).toEqual(plain)
    expect(modelInput({ systemMessage: new SystemMessage({ content: [] }), messages })).toEqual(
      plain,
    )
    expect(inputTokenBound(plain, { contextWindow: 128_000 })).toBeLessThan(1_000)
  })
})

describe('sentContent: the API fields beside the messages, as sized', () => {
  it('keeps what the provider bills or bills by, and leaves out scalar settings', () => {
    const content = {
      tools: [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      response_format: { type: 'json_schema', json_schema: { name: 'a', schema: {} } },
      prediction: { type: 'content', content: 'the file as it was' },
      previous_response_id: 'resp_1',
      // Switches the bound reads: reasoning on (unseen output), truncation (no floor).
      reasoning_effort: 'high',
      enable_thinking: true,
      truncation: 'auto',
      // Content that lists no keys of its own.
      file: new URL('https://example.com/report.pdf'),
      bytes: new Uint8Array(0),
    }
    const settings = {
      model: TEST_MODEL,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 1000,
      temperature: 0.2,
      parallel_tool_calls: false,
      top_p: undefined,
      user: null,
      stop: [],
      text: {},
    }
    expect(sentContent({ ...settings, ...content })).toEqual(content)
    expect(sentContent(undefined)).toEqual({})
  })

  it("a request's settings add nothing to the bound of its messages", () => {
    const messages = [{ role: 'human', content: 'hi' }]
    const settings = { model: TEST_MODEL, stream: false, max_tokens: 2000, temperature: undefined }
    expect(inputTokenBound({ messages, request: sentContent(settings) })).toBe(
      inputTokenBound({ messages, request: {} }),
    )
  })
})

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

  it('returns undefined when there is no usage: the core then settles its own count', () => {
    expect(toTokenUsage(undefined)).toBeUndefined()
    expect(toTokenUsage(null)).toBeUndefined()
  })

  // The core judges the figures (usage sanity is policy): a malformed output count is not
  // believed, and the guard's own count of the answer stands in for it, never zero.
  it.each([Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY])(
    'a malformed output count (%s) settles the counted answer, not the input alone',
    async (bad) => {
      const agent = await testAgent()
      const usage_metadata = { input_tokens: 10, output_tokens: bad, total_tokens: 10 }
      const model = fakeChatModel().respond(
        new AIMessage({ content: 'x'.repeat(400), usage_metadata }),
      )
      const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
      await createAgent({ model, tools: [], middleware: [killSwitch] }).invoke({
        messages: [new HumanMessage('hi')],
      })
      // TEST_PRICES: $1 per thousand tokens; 10 input tokens alone are $0.01.
      expect(agent.settled).toHaveLength(1)
      expect(agent.settled[0]).toBeGreaterThan(0.05)
      expect(agent.settled[0]).toBeLessThanOrEqual(agent.reserved[0] ?? 0)
      expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
    },
  )
})
