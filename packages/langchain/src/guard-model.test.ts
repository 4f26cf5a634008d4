// guardModel: a chat model that guards its own calls, whichever way it is called. The real
// ChatOpenAI against a local server that keeps its own bill (chat-openai.test.ts runs the
// endings every entry point shares: finish, revocation, caller abort, provider refusals, a
// provider that ignores its abort, a consumer that breaks).
import {
  AgentRevokedError,
  findKillSwitchError,
  InvalidConfigError,
  toMicros,
} from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager'
import { AIMessage, AIMessageChunk, type BaseMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'
import { RunnableLambda } from '@langchain/core/runnables'
import { FakeStreamingChatModel } from '@langchain/core/utils/testing'
import type { ChatOpenAI } from '@langchain/openai'
import fc from 'fast-check'
import { createAgent, initChatModel } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { guardModel } from './guard-model.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import type { OpenAIServer } from './testing/openai-server.js'
import {
  chatOpenAI,
  heldAndCrossingPiece,
  ledger,
  rejection,
  searchTool,
  TEST_MODEL,
  testAgent,
} from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

async function setup(spendingCap: number, outputTokens = 40, fields = {}) {
  const agent = await testAgent({ spendingCap })
  const { model, provider } = await chatOpenAI({
    outputTokens,
    fields: { maxTokens: 1000, ...fields },
  })
  servers.push(provider)
  const guarded = guardModel(model, { killSwitch: agent.ks, credential: agent.credential })
  return { agent, provider, model, guarded }
}

describe('guardModel: what it refuses when it is built', () => {
  it('refuses what is not a chat model, naming the field', async () => {
    const agent = await testAgent()
    const options = { killSwitch: agent.ks, credential: agent.credential }
    const notAModel = RunnableLambda.from((input: string) => input) as unknown as ChatOpenAI
    const error = (() => {
      try {
        guardModel(notAModel, options)
      } catch (thrown) {
        return thrown
      }
    })()
    expect(error).toBeInstanceOf(InvalidConfigError)
    expect((error as InvalidConfigError).field).toBe('model')
  })

  it('refuses its own result, or a model built on it (each call would be held twice)', async () => {
    const { agent, guarded } = await setup(100)
    const options = { killSwitch: agent.ks, credential: agent.credential }
    expect(() => guardModel(guarded, options)).toThrow(/already guarded/)
    expect(() => guardModel(Object.create(guarded), options)).toThrow(/already guarded/)
  })

  it("refuses initChatModel's configurable model, whose provider model it could not reach", async () => {
    const agent = await testAgent()
    const model = await initChatModel(`openai:${TEST_MODEL}`, { apiKey: 'sk-test' })
    const options = { killSwitch: agent.ks, credential: agent.credential, model: TEST_MODEL }
    expect(() => guardModel(model, options)).toThrow(/initChatModel/)
  })

  it('killSwitchMiddleware refuses an agent model that guardModel guards (it would hold twice)', async () => {
    const { agent, provider, guarded } = await setup(100)
    const options = { killSwitch: agent.ks, credential: agent.credential }
    const graph = createAgent({
      model: guarded,
      tools: [],
      middleware: [killSwitchMiddleware(options)],
    })
    const error = await rejection(graph.invoke({ messages: [{ role: 'user', content: 'hi' }] }))
    const refusal = findKillSwitchError(error)
    expect(refusal).toBeInstanceOf(InvalidConfigError)
    expect((refusal as InvalidConfigError).field).toBe('model')
    expect(provider.requests).toHaveLength(0)
    expect(await ledger(agent)).toEqual({ spent: 0, held: 0 })
  })

  it('refuses a model it cannot price at once, not at its first call', async () => {
    const agent = await testAgent()
    const model = new FakeStreamingChatModel({ responses: [], maxRetries: 0 })
    expect(() => guardModel(model, { killSwitch: agent.ks, credential: agent.credential })).toThrow(
      InvalidConfigError,
    )
    // Named in the options, it is priced as that model.
    const named = guardModel(model, {
      killSwitch: agent.ks,
      credential: agent.credential,
      model: 'test-model',
    })
    expect(named).toBeInstanceOf(FakeStreamingChatModel)
  })
})

describe('guardModel: every way the model is called is guarded', () => {
  it('bindTools and withConfig return guarded models (ChatOpenAI builds a new model for them)', async () => {
    const { agent, provider, guarded } = await setup(100)
    const { search } = searchTool()
    await guarded.bindTools([search]).invoke('Find the report')
    await guarded.withConfig({ tags: ['bound'] }).invoke('Summarise it')
    expect(provider.requests).toHaveLength(2)
    expect(provider.requests[0]?.tools).toHaveLength(1)
    expect(agent.reserved).toHaveLength(2)
    expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
  })

  it("a bindTools that builds its own model (FakeStreamingChatModel's) is guarded too", async () => {
    // FakeStreamingChatModel's bindTools builds the new model without its fields, so with
    // LangChain's 6 client retries: refused as any model that retries. This one keeps 0.
    class KeepsNoRetries extends FakeStreamingChatModel {
      override bindTools(tools: Parameters<FakeStreamingChatModel['bindTools']>[0]) {
        const binding = super.bindTools(tools) as unknown as { bound: FakeStreamingChatModel }
        Object.assign(binding.bound.caller, { maxRetries: 0 })
        return binding as unknown as ReturnType<FakeStreamingChatModel['bindTools']>
      }
    }
    const agent = await testAgent({ spendingCap: 100 })
    const fields = { sleep: 0, responses: [new AIMessage('done')], maxRetries: 0 }
    const options = { killSwitch: agent.ks, credential: agent.credential, model: TEST_MODEL }
    const { search } = searchTool()
    const retrying = guardModel(new FakeStreamingChatModel(fields), options)
    expect(() => retrying.bindTools([search])).toThrow(InvalidConfigError)
    await guardModel(new KeepsNoRetries(fields), options).bindTools([search]).invoke('Find it')
    expect(agent.reserved).toHaveLength(1)
    expect(agent.settled).toHaveLength(1)
  })

  it('a model that streams inside its own generate is counted and stopped at its hold', async () => {
    // What ChatOpenAI does with `streaming: true`: _generate reads its own stream and tells
    // the run's callbacks each token. A model the kill switch cannot clamp (no maxTokens)
    // and 40,000 characters to say: the call is stopped where its hold ends, not settled
    // after the fact.
    class StreamsInGenerate extends FakeStreamingChatModel {
      override async _generate(
        messages: BaseMessage[],
        options: this['ParsedCallOptions'],
        runManager?: CallbackManagerForLLMRun,
      ): Promise<ChatResult> {
        let text = ''
        for await (const chunk of this._streamResponseChunks(messages, options, runManager)) {
          text += chunk.text
        }
        return { generations: [{ text, message: new AIMessage(text) }] }
      }
    }
    const agent = await testAgent({ spendingCap: 100 })
    const chunks = Array.from({ length: 400 }, () => new AIMessageChunk('x'.repeat(100)))
    const model = new StreamsInGenerate({ sleep: 0, chunks, maxRetries: 0 })
    const guarded = guardModel(model, {
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })
    const handler = new (class extends BaseCallbackHandler {
      name = 'AnyHandler'
    })()
    // With the caller's callbacks, and without any (LangChain then makes no run manager).
    for (const config of [{ callbacks: [handler] }, {}]) {
      const error = await rejection(guarded.invoke('Say it all', config))
      expect(findKillSwitchError(error)).toBeDefined()
    }
    // Each call charged its hold and the 100-character piece that crossed it (sent, billed).
    const after = await ledger(agent)
    expect(after.held).toBe(0)
    for (const [index, reserved] of agent.reserved.slice(0, 2).entries()) {
      expect(reserved, `call ${index}`).toBeGreaterThan(0)
    }
    const held = (agent.reserved[0] ?? 0) + (agent.reserved[1] ?? 0)
    expect(after.spent).toBeGreaterThanOrEqual(toMicros(held))
    expect(after.spent).toBeLessThanOrEqual(toMicros(heldAndCrossingPiece(held, 200)))
  })

  it("draws on the budgets a call's metadata names, callbacks or not; refuses an unknown key", async () => {
    const { agent, provider, guarded } = await setup(100)
    await agent.ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 7, per: 'month' }] })
    const metadata = { killswitch: { budgets: ['customer-acme'] } }
    await guarded.invoke('hi', { metadata })
    await guarded.withConfig({ metadata }).invoke('hi again')
    const [budget] = await agent.ks.budgets.list()
    expect(toMicros(budget?.limits[0]?.spent ?? 0)).toBe(provider.billMicros())
    const error = await rejection(guarded.invoke('hi', { metadata: { killswitch: { bogus: 1 } } }))
    expect(findKillSwitchError(error)).toBeInstanceOf(InvalidConfigError)
  })

  it('a bound model of a revoked agent is refused before the provider sees it', async () => {
    const { agent, provider, guarded } = await setup(100)
    const { search } = searchTool()
    const bound = guarded.bindTools([search])
    await agent.ks.agents.revoke(agent.handle)
    const error = await rejection(bound.invoke('Find the report'))
    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(provider.requests).toHaveLength(0)
  })

  it('batch and streamEvents settle every call at the provider bill', async () => {
    // Not `streaming: true`: ChatOpenAI's invoke then counts tokens with tiktoken, which
    // downloads its encoding. streamEvents streams whatever the setting.
    const { agent, provider, guarded } = await setup(100)
    await guarded.batch(['one', 'two', 'three'])
    for await (const _ of guarded.streamEvents('four')) {
      // read to the end
    }
    expect(provider.requests).toHaveLength(4)
    expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
  })

  it('a call the agent cannot afford whole is clamped: the provider is asked for less', async () => {
    // $1 of room at $1 per thousand tokens, the input bound included: fewer than the 1000
    // output tokens the model would otherwise ask for (its maxTokens is 5000).
    const { agent, provider, guarded } = await setup(1, 5000, { maxTokens: 5000 })
    await guarded.invoke('Write at length')
    const asked = Number(provider.requests[0]?.max_tokens)
    expect(asked).toBeGreaterThan(0)
    expect(asked).toBeLessThan(1000)
    const after = await ledger(agent)
    expect(after).toEqual({ spent: provider.billMicros(), held: 0 })
    expect(after.spent).toBeLessThanOrEqual(toMicros(1))
  })

  it('a clamped call of a bound model keeps its tools (streamEvents reads no call options)', async () => {
    // $3 of room: the tool's schema is part of the input bound, and 5000 output tokens are not.
    const { provider, guarded } = await setup(3, 5000, { maxTokens: 5000 })
    const { search } = searchTool()
    // ChatOpenAI's bindTools answers a ChatOpenAI, with the one-argument streamEvents.
    const bound = guarded.bindTools([search]) as ChatOpenAI
    for await (const _ of bound.streamEvents('Find the report')) {
      // read to the end
    }
    expect(Number(provider.requests[0]?.max_tokens)).toBeLessThan(3000)
    expect(provider.requests[0]?.tools).toHaveLength(1)
  })

  it('concurrent calls, streamed or not, never pass the cap and record at least the bill', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 500, max: 4000 }),
        fc.boolean(),
        async (calls, capTokens, streaming) => {
          const cap = capTokens / 1000
          const { agent, provider, guarded } = await setup(cap, 60, { streaming })
          const call = (i: number) =>
            streaming
              ? (async () => {
                  for await (const _ of await guarded.stream(`call ${i}`)) {
                    // read to the end
                  }
                })()
              : guarded.invoke(`call ${i}`)
          await Promise.allSettled(Array.from({ length: calls }, (_, i) => call(i)))
          const after = await ledger(agent)
          expect(after.held).toBe(0)
          expect(after.spent).toBeLessThanOrEqual(toMicros(cap))
          expect(after.spent).toBeGreaterThanOrEqual(provider.billMicros())
        },
      ),
      { numRuns: 15 },
    )
  })
})
