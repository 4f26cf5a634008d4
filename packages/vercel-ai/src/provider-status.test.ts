// A provider that refuses a call outright (429, 400) bills nothing: the hold is released;
// a 500 may have done work: it is charged. The core decides (it reads the AI SDK's
// APICallError `statusCode`); the adapter only hands it the provider's error.
import { APICallError } from '@ai-sdk/provider'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { MOCK_MODEL_ID } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

function failingModel(statusCode: number) {
  const fail = async (): Promise<never> => {
    throw new APICallError({
      message: `provider answered ${statusCode}`,
      url: 'http://127.0.0.1/v1/chat',
      requestBodyValues: {},
      statusCode,
      isRetryable: false,
    })
  }
  return new MockLanguageModelV4({ modelId: MOCK_MODEL_ID, doGenerate: fail, doStream: fail })
}

describe('a provider that answers an error', () => {
  for (const path of ['generate', 'stream'] as const) {
    it.each([
      [429, 'released'],
      [400, 'released'],
      [500, 'charged'],
    ] as const)(`${path}: %i: %s, the provider's own error rethrown`, async (status, expected) => {
      const agent = await testAgent(1, { runaway: false })
      const model = wrapLanguageModel({
        model: failingModel(status),
        middleware: killSwitchMiddleware({ killSwitch: agent.ks, credential: agent.credential }),
      })
      // streamText hands the provider's error to onError (its text rejects with the SDK's own
      // NoOutputGeneratedError, as without the kill switch).
      const seen: unknown[] = []
      const run =
        path === 'generate'
          ? generateText({ model, prompt: 'hello', maxRetries: 0 })
          : streamText({
              model,
              prompt: 'hello',
              maxRetries: 0,
              onError: ({ error }) => void seen.push(error),
            }).text
      await Promise.resolve(run).catch((error: unknown) => seen.push(error))
      expect(seen[0]).toBeInstanceOf(APICallError)
      expect((seen[0] as APICallError).statusCode).toBe(status)
      const ledger = await agent.ledger()
      expect(ledger.held).toBe(0)
      if (expected === 'released') expect(ledger.spent).toBe(0)
      else expect(ledger.spent).toBeGreaterThan(0)
    })
  }
})
