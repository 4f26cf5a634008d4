import { AgentRevokedError, findKillSwitchError, SpendingCapExceededError } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager'
import {
  BaseChatModel,
  type BaseChatModelParams,
} from '@langchain/core/language_models/chat_models'
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages'
import type { ChatGenerationChunk, ChatResult } from '@langchain/core/outputs'
import { FakeStreamingChatModel } from '@langchain/core/utils/testing'
import { calcPrice } from '@pydantic/genai-prices'
import { createAgent } from 'langchain'
import { describe, expect, it, vi } from 'vitest'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import {
  fakeChatModel,
  guardedBy,
  heldAndCrossingPiece,
  TEST_MODEL,
  testAgent,
} from './testing/test-kit.js'

const question = { messages: [new HumanMessage('Summarise the incident report.')] }

function deferred() {
  let resolve: () => void = () => undefined
  const promise = new Promise<void>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

/** FakeStreamingChatModel that stops after its first chunk until the test opens the gate. */
class GatedStreamingModel extends FakeStreamingChatModel {
  starts = 0
  streamed = 0
  readonly gate = deferred()
  readonly firstChunk = deferred()

  // The parent's bindTools builds a plain FakeStreamingChatModel: keep this class instead.
  override bindTools() {
    return this.withConfig({})
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    this.starts++
    for await (const chunk of super._streamResponseChunks(messages, options, runManager)) {
      this.streamed++
      yield chunk
      if (this.streamed === 1) {
        this.firstChunk.resolve()
        await this.gate.promise
      }
    }
  }
}

/** A chat model with a `maxTokens` setting, like ChatOpenAI: records what each call was sent. */
class MaxTokensModel extends BaseChatModel {
  static sent: Array<number | undefined> = []
  maxTokens: number | undefined

  constructor(fields: BaseChatModelParams & { maxTokens?: number }) {
    super(fields)
    this.maxTokens = fields.maxTokens
  }

  _llmType(): string {
    return 'max-tokens-model'
  }

  override bindTools() {
    return this.withConfig({})
  }

  override getLsParams() {
    return {
      ls_provider: 'test',
      ls_model_name: TEST_MODEL,
      ls_model_type: 'chat' as const,
      ls_max_tokens: this.maxTokens,
    }
  }

  async _generate(): Promise<ChatResult> {
    MaxTokensModel.sent.push(this.maxTokens)
    const message = new AIMessage({
      content: 'ok',
      usage_metadata: { input_tokens: 10, output_tokens: 2, total_tokens: 12 },
    })
    return { generations: [{ text: 'ok', message }] }
  }
}

describe('killSwitchMiddleware accounting', () => {
  it('settles cache reads, cache writes and reasoning at the real price of the model', async () => {
    const agent = await testAgent({ spendingCap: 10 })
    const usage_metadata = {
      input_tokens: 10_000,
      output_tokens: 2_000,
      total_tokens: 12_000,
      input_token_details: { cache_read: 4_000, cache_creation: 1_000 },
      output_token_details: { reasoning: 500 },
    }
    const model = fakeChatModel().respond(new AIMessage({ content: 'summary', usage_metadata }))
    const killSwitch = killSwitchMiddleware({
      ...guardedBy(agent),
      model: 'claude-sonnet-4-0',
      provider: 'anthropic',
    })
    await createAgent({ model, tools: [], middleware: [killSwitch] }).invoke(question)

    const expected = calcPrice(
      {
        input_tokens: 10_000,
        cache_read_tokens: 4_000,
        cache_write_tokens: 1_000,
        output_tokens: 2_000,
      },
      'claude-sonnet-4-0',
      { providerId: 'anthropic' },
    )
    expect(expected).not.toBeNull()
    expect(agent.settled).toHaveLength(1)
    // Integer micro-dollars, rounded up: equal to the library's float to the micro-dollar.
    expect(Math.abs((agent.settled[0] ?? 0) - (expected?.total_price ?? 0))).toBeLessThanOrEqual(
      1e-6,
    )
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('settles what the guard can bound (never zero) when the model reports no usage', async () => {
    const agent = await testAgent()
    const model = fakeChatModel().respond(new AIMessage('no usage here'))
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    await createAgent({ model, tools: [], middleware: [killSwitch] }).invoke(question)

    // The core stands its own figures (the prompt's bound, the answer's text) in for the
    // missing usage: more than zero, no more than the hold.
    expect(agent.reserved).toHaveLength(1)
    expect(agent.settled).toHaveLength(1)
    expect(agent.settled[0]).toBeGreaterThan(0)
    expect(agent.settled[0]).toBeLessThanOrEqual(agent.reserved[0] ?? 0)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it("lowers the model's max output tokens to what the budget pays for", async () => {
    MaxTokensModel.sent = []
    // $0.50 at $1 per thousand tokens: the prompt's bound takes about half of it, and the
    // rest pays for far fewer output tokens than the model's own 4000.
    const agent = await testAgent({ spendingCap: 0.5 })
    const model = new MaxTokensModel({ maxTokens: 4000, maxRetries: 0 })
    const killSwitch = killSwitchMiddleware({ killSwitch: agent.ks, credential: agent.credential })
    await createAgent({ model, tools: [], middleware: [killSwitch] }).invoke({
      messages: [new HumanMessage('hi')],
    })

    expect(MaxTokensModel.sent).toHaveLength(1)
    const sent = MaxTokensModel.sent[0] ?? Number.POSITIVE_INFINITY
    const hold = (await agent.ks.audit(agent.handle)).find((entry) => entry.type === 'hold')
    expect(sent).toBe(hold?.data.maxOutputTokens)
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThan(4000)
    // The model the user built is not changed: the clamp applies to this call only.
    expect(model.maxTokens).toBe(4000)
  })

  it('stops the stream of a model it cannot clamp once the output reaches what the hold pays for', async () => {
    // The hold pays for at most 5 output tokens; the model (no maxTokens setting) wants 200.
    const agent = await testAgent({}, { defaultMaxOutputTokens: 5 })
    const text = 'x'.repeat(200)
    const model = new FakeStreamingChatModel({
      sleep: 0,
      responses: [new AIMessage(text)],
      maxRetries: 0,
    })
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const chunks: string[] = []
    const error = await (async () => {
      for await (const [chunk] of await runnable.stream(question, { streamMode: 'messages' })) {
        chunks.push(chunk.text)
      }
    })().then(
      () => undefined,
      (reason: unknown) => reason,
    )

    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    expect(chunks.join('').length).toBeLessThan(text.length)
    // What streamed is charged (counted: the hold and the piece that crossed it); nothing
    // stays held.
    const after = await agent.ks.agents.get(agent.handle)
    expect(after.held).toBe(0)
    expect(after.spent).toBeGreaterThan(0)
    expect(after.spent).toBeLessThanOrEqual(heldAndCrossingPiece(agent.reserved[0] ?? 0))
  })

  it("counts the stream of a model given in a RunnableBinding, keeping the binding's own callbacks", async () => {
    const agent = await testAgent({}, { defaultMaxOutputTokens: 5 })
    const text = 'x'.repeat(200)
    const own: string[] = []
    const spy = BaseCallbackHandler.fromMethods({
      handleLLMNewToken: (token) => void own.push(token),
    })
    const model = new FakeStreamingChatModel({
      sleep: 0,
      responses: [new AIMessage(text)],
      maxRetries: 0,
    }).withConfig({ callbacks: [spy], tags: ['mine'] })
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = await runnable
      .stream(question, { streamMode: 'messages' })
      .then(async (stream) => {
        for await (const _ of stream) {
          // read on
        }
      })
      .then(
        () => undefined,
        (reason: unknown) => reason,
      )

    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    // The binding's own callback saw the tokens that streamed, and the stream was cut short.
    expect(own.length).toBeGreaterThan(0)
    expect(own.join('').length).toBeLessThan(text.length)
    const after = await agent.ks.agents.get(agent.handle)
    expect(after.held).toBe(0)
    expect(after.spent).toBeGreaterThan(0)
    expect(after.spent).toBeLessThanOrEqual(heldAndCrossingPiece(agent.reserved[0] ?? 0))
  })

  it.each([
    ['with the signal passed to createAgent', true],
    ['without it (the middleware still stops the run)', false],
  ])('rejects the run when the agent is revoked mid-stream, %s', async (_name, passSignal) => {
    const agent = await testAgent()
    const model = new GatedStreamingModel({
      sleep: 0,
      responses: [new AIMessage('a long answer that keeps streaming tokens')],
      maxRetries: 0,
    })
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({
      model,
      tools: [],
      middleware: [killSwitch],
      ...(passSignal ? { signal: killSwitch.signal } : {}),
    })

    const chunks: string[] = []
    const run = (async () => {
      for await (const [chunk] of await runnable.stream(question, { streamMode: 'messages' })) {
        chunks.push(chunk.text)
      }
    })()
    const outcome = run.then(
      () => undefined,
      (error: unknown) => error,
    )
    await model.firstChunk.promise
    await agent.ks.agents.revoke(agent.handle, { reason: 'operator pulled the switch' })
    model.gate.resolve()

    const error = await outcome
    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(model.starts).toBe(1)
    expect(chunks.join('').length).toBeLessThan('a long answer that keeps streaming tokens'.length)
    // The interrupted call's hold is settled or released once the call ends: nothing leaks.
    await vi.waitFor(async () => expect((await agent.ks.agents.get(agent.handle)).held).toBe(0))
  })
})
