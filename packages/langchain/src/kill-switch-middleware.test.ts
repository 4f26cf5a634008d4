import {
  AgentRevokedError,
  findKillSwitchError,
  InvalidConfigError,
  RunawayDetectedError,
  SpendingCapExceededError,
  toMicros,
  UnknownModelPriceError,
} from '@killswitch/core'
import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { createAgent, modelRetryMiddleware, tool } from 'langchain'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import {
  fakeChatModel,
  guardedBy,
  ledger,
  rejection,
  searchTool,
  TEST_MODEL,
  testAgent,
} from './testing/test-kit.js'

const question = { messages: [new HumanMessage('Find everything about kill switches.')] }

function toolCallMessage(i: number, q: string) {
  return new AIMessage({
    content: `step ${i}`,
    tool_calls: [{ name: 'search', args: { q }, id: `call_${i}`, type: 'tool_call' }],
    usage_metadata: { input_tokens: 200, output_tokens: 20, total_tokens: 220 },
  })
}

describe('killSwitchMiddleware', () => {
  it('releases the hold of a call revoked before the model was called (it never left)', async () => {
    const agent = await testAgent()
    // A ready guard (the `{ guard }` option), revoked between the reservation and the model call.
    const guard = agent.ks.guard(agent.credential)
    const reserve = guard.beforeModelCall.bind(guard)
    guard.beforeModelCall = async (request) => {
      const ticket = await reserve(request)
      await agent.ks.agents.revoke(agent.handle, { reason: 'revoked while reserving' })
      return ticket
    }
    const model = fakeChatModel().respond(new AIMessage('never sent'))
    const killSwitch = killSwitchMiddleware({ guard, model: TEST_MODEL })
    const error = await rejection(
      createAgent({ model, tools: [], middleware: [killSwitch] }).invoke(question),
    )

    expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
    expect(model.callCount).toBe(0)
    expect(agent.released).toHaveLength(1)
    const after = await agent.ks.agents.get(agent.handle)
    expect(after).toMatchObject({ spent: 0, held: 0 })
  })

  it('stops a looping agent at the spending cap, before the refused model call', async () => {
    // Loop detection (calls of the same shape) would stop this paginating loop first: off,
    // so that it runs into the cap.
    const runaway = { slowLoop: { enabled: false }, repeatedToolCall: { enabled: false } }
    const agent = await testAgent({ spendingCap: 5, runaway })
    const model = fakeChatModel()
    for (let i = 0; i < 100; i++) model.respond(toolCallMessage(i, `page ${i}`))
    const { search, calls } = searchTool()
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [search], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question, { recursionLimit: 1000 }))

    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    // Every model call that ran was settled; the refused one never reached the model.
    expect(model.callCount).toBe(agent.settled.length)
    expect(model.callCount).toBeGreaterThan(1)
    expect(model.callCount).toBeLessThan(100)
    expect(calls).toHaveLength(model.callCount)
    const after = await agent.ks.agents.get(agent.handle)
    expect(after.spent).toBeLessThanOrEqual(5)
    expect(after.held).toBe(0)
  })

  it('stops a repeated identical tool call before its 5th execution (loop detection)', async () => {
    const agent = await testAgent({ spendingCap: 1000 })
    const model = fakeChatModel()
    for (let i = 0; i < 20; i++) model.respond(toolCallMessage(i, 'the same query'))
    const { search, calls } = searchTool()
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [search], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question, { recursionLimit: 1000 }))

    const stopped = findKillSwitchError(error)
    expect(stopped).toBeInstanceOf(RunawayDetectedError)
    expect((stopped as RunawayDetectedError).detector).toBe('repeated-tool-call')
    // The tool's own counter: four runs, the fifth identical call was stopped before it ran.
    expect(calls).toHaveLength(4)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('refuses a revoked credential in beforeModel, unwrapped, without calling the model', async () => {
    const agent = await testAgent()
    await agent.ks.agents.revoke(agent.handle, { reason: 'incident 42' })
    const model = fakeChatModel().respond(new AIMessage('never'))
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question))

    // beforeModel runs in its own graph node: LangChain does not wrap its error.
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect((error as AgentRevokedError).reason).toBe('incident 42')
    expect(model.callCount).toBe(0)
  })

  it('refuses an exhausted budget in beforeModel, unwrapped, without calling the model', async () => {
    const agent = await testAgent({ spendingCap: 0 })
    const model = fakeChatModel().respond(new AIMessage('never'))
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question))

    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(model.callCount).toBe(0)
  })

  it('refuses a model without a known price before calling it', async () => {
    const agent = await testAgent()
    const model = fakeChatModel().respond(new AIMessage('never'))
    const killSwitch = killSwitchMiddleware({
      ...guardedBy(agent),
      model: 'mystery-model',
    })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question))

    expect(findKillSwitchError(error)).toBeInstanceOf(UnknownModelPriceError)
    expect(model.callCount).toBe(0)
  })

  it('refuses a model that does not report its name, naming the option to set', async () => {
    const agent = await testAgent()
    const model = fakeChatModel().respond(new AIMessage('never'))
    const killSwitch = killSwitchMiddleware({ killSwitch: agent.ks, credential: agent.credential })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = findKillSwitchError(await rejection(runnable.invoke(question)))

    expect(error).toBeInstanceOf(InvalidConfigError)
    expect((error as InvalidConfigError).field).toBe('model')
    expect(model.callCount).toBe(0)
  })

  it('checks its options when it is built', async () => {
    const agent = await testAgent()
    expect(() => killSwitchMiddleware({ killSwitch: agent.ks, credential: '' })).toThrow(
      InvalidConfigError,
    )
    expect(() => killSwitchMiddleware({ ...guardedBy(agent), toolPrices: { search: -1 } })).toThrow(
      /toolPrices\.search/,
    )
  })

  it('charges the most the call can cost when the model call fails after it was made, and the run gets the provider error', async () => {
    const agent = await testAgent()
    const model = fakeChatModel().alwaysThrow(new Error('provider is down'))
    const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
    const runnable = createAgent({ model, tools: [], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question))

    expect(String(error)).toContain('provider is down')
    // The request may have left and been billed: nothing says what it cost, so the most it
    // can, as unreconciled: the input bound of the question (160 tokens) and the 4,096 output
    // tokens told (the default limit), at $1 per thousand: (160 + 4,096) x 1,000 = 4,256,000
    // micro-dollars. Not the hold (24,736,000: six times the output, the count headroom of
    // an unknown tokenizer).
    const most = (160 + 4_096) * 1_000
    expect(agent.released).toHaveLength(0)
    expect(agent.settled.map(toMicros)).toEqual([most])
    expect(await ledger(agent)).toEqual({ spent: most, held: 0 })
    expect(toMicros((await agent.ks.agents.get(agent.handle)).unreconciled)).toBe(most)
  })

  it('holds a paid tool before it runs and charges it when the tool fails after it started', async () => {
    const agent = await testAgent()
    const model = fakeChatModel()
      .respond(toolCallMessage(0, 'ok'))
      .respond(toolCallMessage(1, 'fail'))
      .respond(new AIMessage('done'))
    const search = tool(
      async ({ q }) => {
        if (q === 'fail') throw new Error('search backend failed')
        return 'fine'
      },
      { name: 'search', description: 'Paid search', schema: z.object({ q: z.string() }) },
    )
    const killSwitch = killSwitchMiddleware({
      ...guardedBy(agent),
      model: TEST_MODEL,
      toolPrices: { search: 0.25 },
    })
    const runnable = createAgent({ model, tools: [search], middleware: [killSwitch] })

    const error = await rejection(runnable.invoke(question))

    expect(String(error)).toContain('search backend failed')
    // Both searches ran: the one that failed may have spent at its backend too.
    expect(agent.settled.filter((cost) => cost === 0.25)).toHaveLength(2)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  describe('ordering: the kill switch goes last, inside any retry or fallback middleware', () => {
    // A retry that leaves its refusals alone (they are final: retried, they are refused again).
    const retryProviderErrors = () =>
      modelRetryMiddleware({
        maxRetries: 2,
        initialDelayMs: 0,
        retryOn: (error) => !findKillSwitchError(error),
        onFailure: 'error',
      })

    /** An agent whose model fails once then answers, the kill switch `order` to the retry. */
    async function retried(order: 'last' | 'first', model = TEST_MODEL) {
      const agent = await testAgent()
      const chat =
        model === TEST_MODEL
          ? fakeChatModel().respond(new Error('provider 500')).respond(new AIMessage('answered'))
          : fakeChatModel().respond(new AIMessage('never'))
      const killSwitch = killSwitchMiddleware({ ...guardedBy(agent), model })
      const retry = retryProviderErrors()
      const middleware = order === 'last' ? [retry, killSwitch] : [killSwitch, retry]
      return { agent, chat, runnable: createAgent({ model: chat, tools: [], middleware }) }
    }

    it('last: each attempt of a retry middleware is its own hold, charged as it ended', async () => {
      const { agent, runnable } = await retried('last')

      const result = await runnable.invoke(question)

      expect(result.messages.at(-1)?.text).toBe('answered')
      // Two requests left: two holds, the failed one charged (it may have run the model).
      expect(agent.reserved).toHaveLength(2)
      expect(agent.settled).toHaveLength(2)
      expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
    })

    it('last: its refusal is not retried and reaches the caller as the typed error', async () => {
      const { chat, runnable } = await retried('last', 'mystery-model')

      const error = await rejection(runnable.invoke(question))

      expect(findKillSwitchError(error)).toBeInstanceOf(UnknownModelPriceError)
      expect(chat.callCount).toBe(0)
    })

    it('first (the trap): a retry inside it runs every attempt on one hold', async () => {
      const { agent, chat, runnable } = await retried('first')

      await runnable.invoke(question)

      // Two requests left, one hold: the failed attempt is not paid for.
      expect(chat.callCount).toBe(2)
      expect(agent.reserved).toHaveLength(1)
    })
  })
})
