// Mastra retries a failed model call (the agent's `maxRetries`, with backoff) unless the
// error is an APICallError that says it is not retryable. A kill switch refusal is final: it
// ends the run at once with the typed error, and the provider is not called again. Real
// @mastra/core agents configured to retry, the real core, both adapters, both modes.
import type { AgentGuard } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import { describe, expect, it } from 'vitest'
import * as mock from '../test/mock-agent.js'
import { killSwitchModel } from './kill-switch-model.js'
import { killSwitchProcessor } from './kill-switch-processor.js'
import { killSwitchTripwire } from './tripwire.js'

type Mode = 'generate' | 'stream'
type Adapter = 'model' | 'processor'

/** The real guard, counting the model calls started: each attempt of Mastra's starts one. */
function countingGuard(real: AgentGuard) {
  const counts = { starts: 0 }
  const startModelCall: AgentGuard['startModelCall'] = (request) => {
    counts.starts++
    return real.startModelCall(request)
  }
  return { guard: mock.overriding(real, { startModelCall }), counts }
}

async function retryingAgent(
  adapter: Adapter,
  cap: number,
  model: mock.LoopingModelOptions,
  runaway?: Parameters<typeof mock.killSwitchWithAgent>[2],
) {
  const setup = await mock.killSwitchWithAgent(cap, undefined, runaway)
  const { guard, counts } = countingGuard(setup.ks.guard(setup.credential))
  const provider = mock.loopingModel(model)
  const { tool, counter } = mock.searchTool()
  const processor = killSwitchProcessor({ guard })
  const agent = mock.quiet(
    new Agent({
      id: 'retrying',
      name: 'retrying',
      instructions: 'Search until you are told to stop.',
      model:
        adapter === 'model'
          ? (killSwitchModel(provider, { guard }) as MastraModelConfig)
          : mock.asMastraModel(provider),
      tools: { search: tool },
      // Mastra retries a failed model call up to 3 times, after 1 s, 2 s and 4 s.
      maxRetries: 3,
      ...(adapter === 'processor' && {
        inputProcessors: [processor],
        outputProcessors: [processor],
      }),
    }),
  )
  return { ...setup, provider, counter, agent, counts }
}

/** The name of the kill switch error a run ended with: thrown, on `stream.error`, or its tripwire. */
async function endedWith(agent: Agent, mode: Mode): Promise<string | undefined> {
  let ended: { name?: string } | undefined
  if (mode === 'generate') {
    try {
      ended = killSwitchTripwire((await agent.generate('go', { maxSteps: 100 })).tripwire)
    } catch (error) {
      ended = error as Error
    }
  } else {
    const stream = await agent.stream('go', { maxSteps: 100 })
    await stream.consumeStream()
    ended = (stream.error as Error | undefined) ?? killSwitchTripwire(stream.tripwire)
  }
  return ended?.name
}

describe('a kill switch refusal ends the run at once: Mastra does not retry it', () => {
  for (const adapter of ['model', 'processor'] as const) {
    for (const mode of ['generate', 'stream'] as const) {
      it(`revoked mid-call: no attempt after the refusal (${adapter}, ${mode})`, async () => {
        let revoke: () => Promise<unknown> = async () => {}
        const s = await retryingAgent(adapter, 1, {
          midCall: async (step) => {
            if (step === 1) await revoke()
          },
        })
        revoke = () => s.ks.agents.revoke(s.handle, { reason: 'test' })

        expect(await endedWith(s.agent, mode)).toBe('AgentRevokedError')
        expect(mock.modelCalls(s.provider)).toBe(2)
        expect(s.counts.starts).toBe(2)
        expect((await s.ks.agents.get(s.handle)).held).toBe(0)
      })

      it(`throttled as a runaway: the provider is not called again once the throttle ends (${adapter}, ${mode})`, async () => {
        // The throttle (0.1 s) ends before Mastra's first retry (1 s): a retry would be
        // admitted and call the provider again, with the same looping tool call.
        const s = await retryingAgent(
          adapter,
          1,
          { args: () => ({ query: 'the same query' }) },
          { repeatedToolCall: { action: 'block' }, throttle: { retryAfterMs: 100 } },
        )

        expect(await endedWith(s.agent, mode)).toBe('RunawayDetectedError')
        expect(mock.modelCalls(s.provider)).toBe(5)
        expect(s.counts.starts).toBe(5)
        expect(s.counter.runs).toBe(4)
        expect((await s.ks.agents.get(s.handle)).held).toBe(0)
      })

      it(`over the cap: the refused call is the last attempt (${adapter}, ${mode})`, async () => {
        const s = await retryingAgent(adapter, 0.2, {}, mock.CAP_ONLY)

        expect(await endedWith(s.agent, mode)).toBe('SpendingCapExceededError')
        // Refused before the provider (one start more than provider calls) or cut mid-stream.
        expect(s.counts.starts - mock.modelCalls(s.provider)).toBeOneOf([0, 1])
        const agentNow = await s.ks.agents.get(s.handle)
        expect(agentNow.spent).toBeLessThanOrEqual(0.2)
        expect(agentNow.held).toBe(0)
      })
    }
  }

  it("still lets Mastra retry the provider's own transient error (429) through the model wrapper", async () => {
    const { ks, credential, handle } = await mock.killSwitchWithAgent(1)
    const answer = mock.loopingModel({ answerAt: 0 })
    let calls = 0
    const { APICallError } = await import('@ai-sdk/provider')
    const { MockLanguageModelV4 } = await import('ai/test')
    const provider = new MockLanguageModelV4({
      provider: 'mock',
      modelId: mock.MODEL_ID,
      doGenerate: async (options) => {
        if (calls++ === 0) {
          throw new APICallError({
            message: '429',
            url: 'http://127.0.0.1',
            requestBodyValues: {},
            statusCode: 429,
          })
        }
        return answer.doGenerate(options)
      },
    })
    const agent = mock.quiet(
      new Agent({
        id: 'transient',
        name: 'transient',
        instructions: 'Answer.',
        model: killSwitchModel(provider, { killSwitch: ks, credential }),
        maxRetries: 1,
      }),
    )

    const result = await agent.generate('go')

    expect(result.error).toBeUndefined()
    expect(calls).toBe(2)
    const agentNow = await ks.agents.get(handle)
    expect(agentNow.held).toBe(0)
    expect(Math.round(agentNow.spent * 1e6)).toBe(Math.round(mock.STEP_COST_USD * 1e6))
  })
})
