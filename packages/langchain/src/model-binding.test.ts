// The model as the middleware hands it to LangChain: the stream counter joins a call wherever
// tokens can stream (the run has callbacks, or the model streams by itself) and nowhere else,
// since a callback there makes LangChain build a callback manager and send run events for
// nothing; a clamped model is rebuilt once per limit, not once per call.

import { findKillSwitchError, SpendingCapExceededError, toMicros } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager'
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'
import { FakeStreamingChatModel } from '@langchain/core/utils/testing'
import { ChatOpenAI } from '@langchain/openai'
import { createAgent, initChatModel } from 'langchain'
import { describe, expect, it } from 'vitest'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { withMaxOutputTokens } from './model-binding.js'
import { openAIServer } from './testing/openai-server.js'
import { guardedBy, heldAndCrossingPiece, TEST_MODEL, testAgent } from './testing/test-kit.js'

const question = { messages: [new HumanMessage('Summarise the incident report.')] }

/**
 * A model that records whether LangChain gave each call a run manager and, when `streaming`
 * is set, streams inside its own `_generate` as ChatOpenAI does: tokens then reach the
 * callbacks even under a plain `invoke` without any callback.
 */
class ProbeModel extends FakeStreamingChatModel {
  readonly streaming: boolean
  readonly managed: boolean[] = []
  streamed = 0

  constructor(fields: { streaming: boolean; responses: BaseMessage[] }) {
    super({ sleep: 0, responses: fields.responses, maxRetries: 0 })
    this.streaming = fields.streaming
  }

  // The parent's bindTools builds a plain FakeStreamingChatModel: keep this class instead.
  override bindTools() {
    return this.withConfig({})
  }

  override async _generate(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    this.managed.push(runManager !== undefined)
    if (!this.streaming) return super._generate(messages, options, runManager)
    let text = ''
    for await (const chunk of this._streamResponseChunks(messages, options, runManager)) {
      this.streamed++
      text += chunk.text
    }
    return { generations: [{ text, message: new AIMessage(text) }] }
  }
}

describe('the middleware stream counter', () => {
  it('adds no callback to a non-streaming call without callbacks; joins the run when it has some', async () => {
    const agent = await testAgent()
    const model = new ProbeModel({ streaming: false, responses: [new AIMessage('ok, done')] })
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    await runnable.invoke(question)
    const seen: string[] = []
    const spy = BaseCallbackHandler.fromMethods({ handleLLMEnd: () => void seen.push('end') })
    await runnable.invoke(question, { callbacks: [spy] })

    // No run manager for the first call: LangChain had no callback to serve. The second
    // call's run has one, and the caller's own handler still sees the model's end.
    expect(model.managed).toEqual([false, true])
    expect(seen).toEqual(['end'])
    expect(agent.settled).toHaveLength(2)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it("keeps a model binding's config factories (withListeners) and its own callbacks", async () => {
    const agent = await testAgent()
    const ended: string[] = []
    const spy = BaseCallbackHandler.fromMethods({ handleLLMEnd: () => void ended.push('spy') })
    const model = new ProbeModel({ streaming: false, responses: [new AIMessage('ok, done')] })
      .withConfig({ callbacks: [spy] })
      .withListeners({ onEnd: () => void ended.push('listener') })
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })

    await createAgent({ model, tools: [], middleware: [killSwitch] }).invoke(question)

    expect(ended.sort()).toEqual(['listener', 'spy'])
    expect(agent.settled).toHaveLength(1)
  })

  it('counts a model that streams by itself under a plain invoke, and stops it at the hold', async () => {
    // The hold pays for at most 5 output tokens; the model (no maxTokens setting) wants 200.
    const agent = await testAgent({}, { defaultMaxOutputTokens: 5 })
    const text = 'x'.repeat(200)
    const model = new ProbeModel({ streaming: true, responses: [new AIMessage(text)] })
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = await runnable.invoke(question).catch((reason: unknown) => reason)

    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    expect(model.managed).toEqual([true])
    expect(model.streamed).toBeGreaterThan(0)
    expect(model.streamed).toBeLessThan(text.length)
    // Charged what streamed (counted, more than nothing, within the hold and the piece that
    // crossed it); nothing held.
    const { held, spent } = await agent.ks.agents.get(agent.handle)
    expect(held).toBe(0)
    expect(spent).toBeGreaterThan(0)
    expect(spent).toBeLessThanOrEqual(heldAndCrossingPiece(agent.reserved[0] ?? 0))
  })
})

describe("initChatModel's configurable model", () => {
  it('is resolved to the provider model it calls: priced, clamped and charged within the cap', async () => {
    const agent = await testAgent({ spendingCap: 0.3 })
    const provider = await openAIServer({
      inputTokens: 10,
      outputTokens: 20_000,
      inputMicros: 1000,
      outputMicros: 1000,
    })
    try {
      const model = await initChatModel(`openai:${TEST_MODEL}`, {
        apiKey: 'sk-test',
        maxRetries: 0,
        configuration: { baseURL: provider.baseURL },
      })
      const killSwitch = killSwitchMiddleware({
        killSwitch: agent.ks,
        credential: agent.credential,
      })
      await createAgent({ model, tools: [], middleware: [killSwitch] }).invoke(question)

      // Clamped near the cap, not the provider's own default (20,000 tokens here).
      const sent = provider.requests[0]?.max_tokens as number
      expect(sent).toBeGreaterThan(0)
      expect(sent).toBeLessThan(300)
      const { spent, held } = await agent.ks.agents.get(agent.handle)
      expect(toMicros(spent)).toBeGreaterThanOrEqual(provider.billMicros())
      expect(toMicros(spent)).toBeLessThanOrEqual(toMicros(0.3))
      expect(held).toBe(0)
    } finally {
      await provider.close()
    }
  })
})

describe('withMaxOutputTokens', () => {
  it('rebuilds a model once per limit, and leaves a model within the limit as it is', () => {
    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxTokens: 4000 })
    const clamped = withMaxOutputTokens(model, 500)

    expect(clamped).not.toBe(model)
    expect(clamped.maxTokens).toBe(500)
    // The same limit again (a budget far from its cap): the rebuilt model and its client.
    expect(withMaxOutputTokens(model, 500)).toBe(clamped)
    const lower = withMaxOutputTokens(model, 300)
    expect(lower).not.toBe(clamped)
    expect(lower.maxTokens).toBe(300)
    expect(withMaxOutputTokens(model, 5000)).toBe(model)
    // The model the user built keeps its own limit.
    expect(model.maxTokens).toBe(4000)
  })
})
