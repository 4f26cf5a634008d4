// A provider that refuses a call outright (429, 400) bills nothing: the hold is released;
// a 500 may have done work: it is charged. The core decides; the adapter passes the status.
import { APICallError } from '@ai-sdk/provider'
import { generateText, wrapLanguageModel } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { MOCK_MODEL_ID } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

function failingModel(statusCode: number) {
  return new MockLanguageModelV4({
    modelId: MOCK_MODEL_ID,
    doGenerate: async () => {
      throw new APICallError({
        message: `provider answered ${statusCode}`,
        url: 'http://127.0.0.1/v1/chat',
        requestBodyValues: {},
        statusCode,
        isRetryable: false,
      })
    },
  })
}

describe('a provider that answers an error', () => {
  it.each([
    [429, 'released'],
    [400, 'released'],
    [500, 'charged'],
  ] as const)('%i: %s', async (status, expected) => {
    const agent = await testAgent(1, { runaway: false })
    const model = wrapLanguageModel({
      model: failingModel(status),
      middleware: killSwitchMiddleware({ killSwitch: agent.ks, credential: agent.credential }),
    })
    await expect(generateText({ model, prompt: 'hello', maxRetries: 0 })).rejects.toBeDefined()
    const ledger = await agent.ledger()
    expect(ledger.held).toBe(0)
    if (expected === 'released') expect(ledger.spent).toBe(0)
    else expect(ledger.spent).toBeGreaterThan(0)
  })
})
