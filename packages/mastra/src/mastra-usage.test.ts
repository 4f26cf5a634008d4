import { Agent } from '@mastra/core/agent'
import type { Processor } from '@mastra/core/processors'
import type { LanguageModelUsage } from '@mastra/core/stream'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import { asMastraModel, quiet } from '../test/mock-agent.js'
import { toTokenUsage } from './mastra-usage.js'

describe('toTokenUsage', () => {
  it("maps the step usage Mastra really reports for a provider's cached and reasoning tokens", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: async () => ({
        content: [{ type: 'text', text: 'ok' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: {
          inputTokens: { total: 1000, noCache: 150, cacheRead: 800, cacheWrite: 50 },
          outputTokens: { total: 300, text: 100, reasoning: 200 },
        },
        warnings: [],
      }),
    })
    const seen: LanguageModelUsage[] = []
    const probe = {
      id: 'probe',
      processOutputStep: ({ usage, messageList }) => {
        seen.push(usage)
        return messageList
      },
    } satisfies Processor
    const agent = quiet(
      new Agent({
        id: 'a',
        name: 'a',
        instructions: 'x',
        model: asMastraModel(model),
        outputProcessors: [probe],
      }),
    )

    await agent.generate('hi')

    // Input tokens include the cache reads and writes, as the core expects.
    expect(toTokenUsage(seen[0])).toEqual({
      inputTokens: 1000,
      cacheReadTokens: 800,
      cacheWriteTokens: 50,
      outputTokens: 300,
      reasoningTokens: 200,
    })
  })

  it('returns undefined when a count is missing: never a zero', () => {
    expect(toTokenUsage(undefined)).toBeUndefined()
    expect(
      toTokenUsage({ inputTokens: 10, outputTokens: undefined, totalTokens: 10 }),
    ).toBeUndefined()
    expect(
      toTokenUsage({ inputTokens: undefined, outputTokens: 5, totalTokens: 5 }),
    ).toBeUndefined()
  })
})
