import {
  AgentRevokedError,
  findKillSwitchError,
  SpendingCapExceededError,
  toMicros,
} from '@killswitch/core'
import { AgentExecutor, createToolCallingAgent } from '@langchain/classic/agents'
import { AIMessage } from '@langchain/core/messages'
import { ChatPromptTemplate, MessagesPlaceholder } from '@langchain/core/prompts'
import { RunnableLambda } from '@langchain/core/runnables'
import { fakeModel } from '@langchain/core/testing'
import { FakeLLM, FakeStreamingChatModel, FakeStreamingLLM } from '@langchain/core/utils/testing'
import { describe, expect, it, vi } from 'vitest'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import {
  guardedBy,
  heldAndCrossingPiece,
  ledger,
  rejection,
  searchTool,
  TEST_MODEL,
  type TestAgent,
  testAgent,
} from './testing/test-kit.js'

const usage_metadata = { input_tokens: 200, output_tokens: 50, total_tokens: 250 }
const chainPrompt = ChatPromptTemplate.fromMessages([['human', 'Summarise: {text}']])
const agentPrompt = ChatPromptTemplate.fromMessages([
  ['system', 'You are a research agent.'],
  ['human', '{input}'],
  new MessagesPlaceholder('agent_scratchpad'),
])

/**
 * A call that failed after it was made, nothing known of what it used: charged `costMicros`,
 * the most it can cost, as unreconciled (the provider's bill corrects it), nothing released
 * and nothing left held.
 */
async function expectChargedUnreconciled(agent: TestAgent, costMicros: number): Promise<void> {
  expect(agent.released).toHaveLength(0)
  expect(agent.settled.map(toMicros)).toEqual([costMicros])
  expect(await ledger(agent)).toEqual({ spent: costMicros, held: 0 })
  expect(toMicros((await agent.ks.agents.get(agent.handle)).unreconciled)).toBe(costMicros)
}

/**
 * A stream cut short: what streamed is charged (estimated, within the hold and the piece
 * that crossed it); nothing stays held.
 */
async function expectStreamedCharged(agent: TestAgent): Promise<void> {
  const after = await agent.ks.agents.get(agent.handle)
  expect(after.held).toBe(0)
  expect(after.spent).toBeGreaterThan(0)
  expect(after.spent).toBeLessThanOrEqual(heldAndCrossingPiece(agent.reserved[0] ?? 0))
}

function toolCall(i: number, q: string) {
  return new AIMessage({
    content: `step ${i}`,
    tool_calls: [{ name: 'search', args: { q }, id: `call_${i}`, type: 'tool_call' }],
    usage_metadata,
  })
}

describe('KillSwitchCallbackHandler', () => {
  it('is built so that throwing aborts the run (raiseError through super)', async () => {
    const agent = await testAgent()
    const handler = new KillSwitchCallbackHandler({
      killSwitch: agent.ks,
      credential: agent.credential,
    })
    expect(handler.raiseError).toBe(true)
    expect(handler.awaitHandlers).toBe(true)
    // LangChain copies handlers with `new this.constructor(this)`: the copy keeps the guard.
    expect((handler.copy() as KillSwitchCallbackHandler).guard).toBe(handler.guard)
  })

  it('stops a chain at the spending cap, before the refused model call', async () => {
    const agent = await testAgent({ spendingCap: 5 })
    const model = fakeModel()
    for (let i = 0; i < 100; i++)
      model.respond(new AIMessage({ content: `summary ${i}`, usage_metadata }))
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })
    const chain = chainPrompt.pipe(model)

    let error: unknown
    for (let i = 0; i < 100 && error === undefined; i++) {
      error = await chain.invoke({ text: `report ${i}` }, { callbacks: [handler] }).then(
        () => undefined,
        (reason: unknown) => reason,
      )
    }

    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(model.callCount).toBe(agent.settled.length)
    expect(model.callCount).toBeGreaterThan(1)
    // Each call settled at its reported usage: 250 tokens at $1 per thousand.
    expect(agent.settled.every((cost) => cost === 0.25)).toBe(true)
    const after = await agent.ks.agents.get(agent.handle)
    expect(after.spent).toBeLessThanOrEqual(5)
    expect(after.held).toBe(0)
  })

  it('refuses a chain once the agent is revoked, without calling the model', async () => {
    const agent = await testAgent()
    const model = fakeModel().respond(new AIMessage({ content: 'one', usage_metadata }))
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })
    const chain = chainPrompt.pipe(model)
    await chain.invoke({ text: 'first' }, { callbacks: [handler] })
    await agent.ks.agents.revoke(agent.handle, { reason: 'leaked credential' })

    const error = await rejection(chain.invoke({ text: 'second' }, { callbacks: [handler] }))

    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(model.callCount).toBe(1)
  })

  it('stops an AgentExecutor at the spending cap', async () => {
    const agent = await testAgent({ spendingCap: 3 })
    const model = fakeModel()
    for (let i = 0; i < 50; i++) model.respond(toolCall(i, `page ${i}`))
    const { search, calls } = searchTool()
    const executor = new AgentExecutor({
      agent: createToolCallingAgent({ llm: model, tools: [search], prompt: agentPrompt }),
      tools: [search],
      maxIterations: 100,
    })
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })

    const error = await rejection(executor.invoke({ input: 'research' }, { callbacks: [handler] }))

    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    expect(model.callCount).toBe(agent.settled.length)
    expect(calls).toHaveLength(model.callCount)
    const after = await agent.ks.agents.get(agent.handle)
    expect(after.spent).toBeLessThanOrEqual(3)
    expect(after.held).toBe(0)
  })

  it('stops an AgentExecutor revoked from outside mid-run, with no model call after it', async () => {
    const agent = await testAgent()
    const model = fakeModel()
    for (let i = 0; i < 10; i++) model.respond(toolCall(i, `page ${i}`))
    // The operator revokes while the second tool call is running.
    const { search, calls } = searchTool(async (q) => {
      if (q === 'page 1') await agent.ks.agents.revoke(agent.handle, { reason: 'runaway bill' })
    })
    const executor = new AgentExecutor({
      agent: createToolCallingAgent({ llm: model, tools: [search], prompt: agentPrompt }),
      tools: [search],
    })
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })

    const error = await rejection(
      executor.invoke({ input: 'research' }, { callbacks: [handler], signal: handler.signal }),
    )

    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(model.callCount).toBe(2)
    expect(calls).toEqual(['page 0', 'page 1'])
  })

  it('stops a repeated identical tool call in an AgentExecutor before its 5th execution', async () => {
    const agent = await testAgent({ spendingCap: 1000 })
    const model = fakeModel()
    for (let i = 0; i < 20; i++) model.respond(toolCall(i, 'the same query'))
    const { search, calls } = searchTool()
    const executor = new AgentExecutor({
      agent: createToolCallingAgent({ llm: model, tools: [search], prompt: agentPrompt }),
      tools: [search],
      maxIterations: 100,
    })
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })

    const error = await rejection(executor.invoke({ input: 'research' }, { callbacks: [handler] }))

    // The tool's own counter: four runs; the fifth identical call was refused at tool start.
    expect(calls).toHaveLength(4)
    // AgentExecutor swallows tool errors (it records an empty observation), so the run is
    // stopped by the detector's action (revoke by default) at the next model call.
    const stopped = findKillSwitchError(error)
    expect(stopped).toBeDefined()
    expect(stopped?.message).toMatch(/repeated-tool-call/)
    expect(model.callCount).toBe(5)
  })

  it('aborts a streaming model mid-stream when the output reaches what the hold pays for', async () => {
    // The hold pays for at most 5 output tokens; the model wants to stream 200 characters.
    const agent = await testAgent({}, { defaultMaxOutputTokens: 5 })
    const text = 'x'.repeat(200)
    const model = new FakeStreamingChatModel({ sleep: 0, responses: [new AIMessage(text)] })
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })

    const received: string[] = []
    const error = await rejection(
      (async () => {
        for await (const chunk of await model.stream('go', { callbacks: [handler] })) {
          received.push(chunk.text)
        }
      })(),
    )

    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(received.join('').length).toBeLessThan(text.length)
    await expectStreamedCharged(agent)
  })

  it('aborts a streaming model when the agent is revoked mid-stream', async () => {
    const agent = await testAgent()
    const text = 'y'.repeat(200)
    const model = new FakeStreamingChatModel({ sleep: 0, responses: [new AIMessage(text)] })
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })

    const received: string[] = []
    const error = await rejection(
      (async () => {
        for await (const chunk of await model.stream('go', { callbacks: [handler] })) {
          received.push(chunk.text)
          if (received.length === 3) await agent.ks.agents.revoke(agent.handle, { reason: 'stop' })
        }
      })(),
    )

    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(received.join('').length).toBeLessThan(text.length)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('charges the most the call can cost when the model fails after it was called, and feeds nothing twice', async () => {
    const agent = await testAgent()
    const model = fakeModel().alwaysThrow(new Error('provider is down'))
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })

    const error = await rejection(
      chainPrompt.pipe(model).invoke({ text: 'x' }, { callbacks: [handler] }),
    )

    expect(String(error)).toContain('provider is down')
    // The request may have left: nothing says what it cost, so the most it can: the input
    // bound of the chain's prompt (136 tokens) and the 4,096 output tokens told (the default
    // limit), at $1 per thousand: (136 + 4,096) x 1,000 = 4,232,000 micro-dollars. Not the
    // hold (24,712,000: six times the output, the count headroom of an unknown tokenizer).
    await expectChargedUnreconciled(agent, (136 + 4_096) * 1_000)
  })

  it('ends the call of a model that throws a string: charged, nothing left held', async () => {
    const agent = await testAgent()
    const model = fakeModel().alwaysThrow('provider is down' as unknown as Error)
    const handler = new KillSwitchCallbackHandler({ ...guardedBy(agent), model: TEST_MODEL })

    const error = await rejection(
      chainPrompt.pipe(model).invoke({ text: 'x' }, { callbacks: [handler] }),
    )

    expect(error).not.toBeInstanceOf(TypeError)
    expect(String(error)).toContain('provider is down')
    // As any failure after the call was made: (136 + 4,096) x 1,000, as above.
    await expectChargedUnreconciled(agent, (136 + 4_096) * 1_000)
  })

  it('feeds each failure to runaway detection once, however many chains it bubbles through', async () => {
    const agent = await testAgent()
    const handler = new KillSwitchCallbackHandler({
      ...guardedBy(agent),
      model: TEST_MODEL,
    })
    const onError = vi.spyOn(handler.guard, 'onError')
    const failModelCall = vi.spyOn(handler.guard, 'failModelCall')

    // A model failure inside two chains: reported by the model's hold only.
    const failing = fakeModel().alwaysThrow(new Error('provider is down'))
    const nested = RunnableLambda.from((input: { text: string }) => input).pipe(
      chainPrompt.pipe(failing),
    )
    await rejection(nested.invoke({ text: 'x' }, { callbacks: [handler] }))
    expect(failModelCall).toHaveBeenCalledTimes(1)
    expect(onError).not.toHaveBeenCalled()

    // A failure in a chain step (no model involved): reported once, as a chain error.
    const broken = RunnableLambda.from(() => {
      throw new Error('parser broke')
    })
    await rejection(
      RunnableLambda.from((x: string) => x)
        .pipe(broken)
        .invoke('x', { callbacks: [handler] }),
    )
    expect(onError).toHaveBeenCalledTimes(1)
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ message: 'parser broke' }),
      'chain',
    )
  })
})

// LangChain's text-completion models (BaseLLM: handleLLMStart with prompts, not messages)
// go through the same lifecycle as chat models.
describe('KillSwitchCallbackHandler with a text-completion LLM', () => {
  const handlerFor = (agent: TestAgent) =>
    new KillSwitchCallbackHandler({ ...guardedBy(agent), model: TEST_MODEL })

  it('holds, then settles the counted output when the LLM reports no usage: never zero, within the hold', async () => {
    const agent = await testAgent()
    const reply = 'word '.repeat(40)
    const llm = new FakeLLM({ response: reply })

    expect(await llm.invoke('Summarise the report.', { callbacks: [handlerFor(agent)] })).toBe(
      reply,
    )

    expect(agent.reserved).toHaveLength(1)
    expect(agent.settled).toHaveLength(1)
    // At least 40 output tokens at $1 per thousand, the input bound on top.
    expect(agent.settled[0]).toBeGreaterThan(0.04)
    expect(agent.settled[0]).toBeLessThanOrEqual(agent.reserved[0] ?? 0)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('stops a streaming LLM mid-stream when its output reaches what the hold pays for', async () => {
    // The hold pays for at most 5 output tokens; the LLM wants to stream 400 characters.
    const agent = await testAgent({}, { defaultMaxOutputTokens: 5 })
    const llm = new FakeStreamingLLM({ responses: ['word '.repeat(80)], sleep: 0 })
    let received = ''

    const error = await rejection(
      (async () => {
        for await (const chunk of await llm.stream('Go on.', { callbacks: [handlerFor(agent)] }))
          received += chunk
      })(),
    )

    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    expect(received.length).toBeLessThan(400)
    await expectStreamedCharged(agent)
  })

  it('charges the most the call can cost when the LLM fails after it was called', async () => {
    const agent = await testAgent()
    const llm = new FakeLLM({ thrownErrorString: 'completion endpoint is down' })

    const error = await rejection(llm.invoke('x', { callbacks: [handlerFor(agent)] }))

    expect(String(error)).toContain('completion endpoint is down')
    // The input bound of the prompt 'x' (96 tokens) and the 4,096 output tokens told, at $1
    // per thousand: (96 + 4,096) x 1,000 = 4,192,000 micro-dollars.
    await expectChargedUnreconciled(agent, (96 + 4_096) * 1_000)
  })

  it('refuses a revoked agent before the LLM runs', async () => {
    const agent = await testAgent()
    await agent.ks.agents.revoke(agent.handle)
    let ran = false
    const llm = new FakeLLM({ response: 'never' })
    const call = llm._call.bind(llm)
    llm._call = async (...args) => {
      ran = true
      return call(...args)
    }

    const error = await rejection(llm.invoke('x', { callbacks: [handlerFor(agent)] }))

    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(ran).toBe(false)
    expect(agent.reserved).toHaveLength(0)
  })
})
