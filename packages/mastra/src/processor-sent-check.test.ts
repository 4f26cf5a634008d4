// A step model whose client reports a request body asking for more than the hold (something
// inside the model raised the limit after the hold): the processor names it, in generate and
// stream alike, and Mastra does not retry it.
import { findKillSwitchError } from '@killswitch/core'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import * as mock from '../test/mock-agent.js'
import { killSwitchTripwire } from './tripwire.js'

/** The looping model, its client reporting a body that asks for a million output tokens. */
function raisingModel() {
  const looping = mock.loopingModel({ answerAt: 0 })
  const request = { body: { max_completion_tokens: 1_000_000 } }
  return new MockLanguageModelV4({
    provider: 'mock',
    modelId: mock.MODEL_ID,
    doGenerate: async (options) => ({ ...(await looping.doGenerate(options)), request }),
    doStream: async (options) => ({ ...(await looping.doStream(options)), request }),
  })
}

describe('killSwitchProcessor: the body the provider was sent', () => {
  for (const mode of ['generate', 'stream'] as const) {
    it(`refuses a body beyond the hold, once, and charges the call that left (${mode})`, async () => {
      const model = raisingModel()
      const { ks, handle, agent } = await mock.processorAgent(1, model)
      const options = { maxSteps: 3, modelSettings: { maxRetries: 2 } }

      let outcome: unknown
      if (mode === 'generate') {
        outcome = await agent.generate('go', options).then(
          (result) => killSwitchTripwire(result.tripwire),
          (error: unknown) => findKillSwitchError(error),
        )
      } else {
        const stream = await agent.stream('go', options)
        await stream.consumeStream()
        outcome = findKillSwitchError(stream.error) ?? killSwitchTripwire(stream.tripwire)
      }

      expect(outcome).toMatchObject({ code: 'invalid_config' })
      expect(mock.modelCalls(model)).toBe(1)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      expect(agentNow.spent).toBeGreaterThan(0)
    })
  }
})
