// Paid tools through LangChain: prices are configured once, on the kill switch
// (`createKillSwitch({ toolPrices })`) or its guard (`ks.guard(credential, { toolPrices })`),
// and the core holds, settles and releases them. Both entry points only translate.
import { InvalidConfigError } from '@killswitch/core'
import { AgentExecutor, createToolCallingAgent } from '@langchain/classic/agents'
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages'
import { ChatPromptTemplate, MessagesPlaceholder } from '@langchain/core/prompts'
import { createAgent, createMiddleware, tool } from 'langchain'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { fakeChatModel, searchTool, TEST_MODEL, testAgent } from './testing/test-kit.js'

const usage_metadata = { input_tokens: 20, output_tokens: 5, total_tokens: 25 }
const question = { messages: [new HumanMessage('Search for it.')] }
const PRICES = { search: 0.25, lookup: 0.1 }

function asks(i: number, name: string, args: Record<string, unknown>) {
  return new AIMessage({
    content: `step ${i}`,
    tool_calls: [{ name, args, id: `call_${i}`, type: 'tool_call' }],
    usage_metadata,
  })
}

/** Tool holds taken and released without spending, from the audit log. */
async function toolHolds(agent: Awaited<ReturnType<typeof testAgent>>) {
  const ids = new Set(agent.released)
  const audit = await agent.ks.audit(agent.handle)
  const holds = audit.filter((entry) => entry.type === 'hold' && entry.data.kind === 'tool')
  return {
    held: holds.length,
    released: holds.filter((entry) => ids.has(String(entry.data.holdId ?? entry.data.id))).length,
  }
}

describe('tool prices configured on the kill switch', () => {
  it('middleware: a paid tool is charged when it runs; a call that never started (bad arguments, no such tool) is released', async () => {
    const agent = await testAgent({}, { toolPrices: PRICES })
    const model = fakeChatModel()
      .respond(asks(0, 'search', { q: 'ok' }))
      // Arguments that fail the tool's schema: the tool node answers with an error message.
      .respond(asks(1, 'search', { q: 42 }))
      // A tool the agent does not have: an error message too, and nothing ran.
      .respond(asks(2, 'lookup', { id: 'x' }))
      .respond(new AIMessage({ content: 'done', usage_metadata }))
    const { search, calls } = searchTool()
    const killSwitch = killSwitchMiddleware({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })

    const result = await createAgent({ model, tools: [search], middleware: [killSwitch] }).invoke(
      question,
    )

    expect(result.messages.at(-1)?.text).toBe('done')
    expect(calls).toEqual(['ok'])
    expect(agent.reserved.filter((amount) => amount === 0.25)).toHaveLength(2)
    expect(agent.reserved.filter((amount) => amount === 0.1)).toHaveLength(1)
    expect(agent.settled.filter((cost) => cost === 0.25)).toHaveLength(1)
    expect(agent.settled).not.toContain(0.1)
    expect(await toolHolds(agent)).toEqual({ held: 3, released: 2 })
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('middleware: a paid tool that answers with its own error message ran, and is charged', async () => {
    const agent = await testAgent({}, { toolPrices: PRICES })
    const model = fakeChatModel()
      .respond(asks(0, 'search', { q: 'quota' }))
      .respond(new AIMessage({ content: 'done', usage_metadata }))
    const search = tool(
      async () =>
        new ToolMessage({ status: 'error', content: 'quota exceeded', tool_call_id: 'call_0' }),
      { name: 'search', description: 'Web search', schema: z.object({ q: z.string() }) },
    )
    const killSwitch = killSwitchMiddleware({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })

    await createAgent({ model, tools: [search], middleware: [killSwitch] }).invoke(question)

    expect(agent.settled.filter((cost) => cost === 0.25)).toHaveLength(1)
    expect(await toolHolds(agent)).toEqual({ held: 1, released: 0 })
    const failed = (await agent.ks.audit(agent.handle)).filter((entry) => entry.data.failed)
    expect(failed).toMatchObject([{ type: 'settled', data: { failed: 'quota exceeded' } }])
  })

  it('middleware: a tool an inner middleware supplies (not registered) that answers an error ran, and is charged', async () => {
    const agent = await testAgent({}, { toolPrices: PRICES })
    const model = fakeChatModel()
      .respond(asks(0, 'lookup', { id: 'x' }))
      .respond(new AIMessage({ content: 'done', usage_metadata }))
    const ran: string[] = []
    const lookup = tool(
      async ({ id }) => {
        ran.push(id)
        return new ToolMessage({ status: 'error', content: 'upstream 503', tool_call_id: 'call_0' })
      },
      { name: 'lookup', description: 'Paid lookup', schema: z.object({ id: z.string() }) },
    )
    // LangChain's way to serve a tool the agent was not built with: an inner middleware puts
    // it on the request, and the tool node runs it.
    const dynamic = createMiddleware({
      name: 'DynamicTools',
      wrapToolCall: (request, handler) =>
        handler(request.toolCall.name === 'lookup' ? { ...request, tool: lookup } : request),
    })
    const killSwitch = killSwitchMiddleware({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })
    const { search } = searchTool()

    await createAgent({ model, tools: [search], middleware: [killSwitch, dynamic] }).invoke(
      question,
    )

    expect(ran).toEqual(['x'])
    expect(agent.settled.filter((cost) => cost === 0.1)).toHaveLength(1)
    expect(await toolHolds(agent)).toEqual({ held: 1, released: 0 })
  })

  it("callback handler: an AgentExecutor's paid tool is charged each time it runs", async () => {
    const agent = await testAgent({}, { toolPrices: PRICES })
    const model = fakeChatModel()
      .respond(asks(0, 'search', { q: 'one' }))
      .respond(asks(1, 'search', { q: 'two' }))
      .respond(new AIMessage({ content: 'done', usage_metadata }))
    const { search, calls } = searchTool()
    const prompt = ChatPromptTemplate.fromMessages([
      ['human', '{input}'],
      new MessagesPlaceholder('agent_scratchpad'),
    ])
    const executor = new AgentExecutor({
      agent: createToolCallingAgent({ llm: model, tools: [search], prompt }),
      tools: [search],
    })
    const handler = new KillSwitchCallbackHandler({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })

    await executor.invoke({ input: 'research' }, { callbacks: [handler] })

    expect(calls).toEqual(['one', 'two'])
    expect(agent.settled.filter((cost) => cost === 0.25)).toHaveLength(2)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('a ready guard carries its own prices: ks.guard(credential, { toolPrices })', async () => {
    const agent = await testAgent()
    const model = fakeChatModel()
      .respond(asks(0, 'search', { q: 'ok' }))
      .respond(new AIMessage({ content: 'done', usage_metadata }))
    const { search } = searchTool()
    const guard = agent.ks.guard(agent.credential, { toolPrices: { search: 0.5 } })
    const killSwitch = killSwitchMiddleware({ guard, model: TEST_MODEL })

    await createAgent({ model, tools: [search], middleware: [killSwitch] }).invoke(question)

    expect(agent.settled).toContain(0.5)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('refuses tool prices beside a ready guard, naming the field, in both entry points', async () => {
    const agent = await testAgent()
    const guard = agent.ks.guard(agent.credential)
    const build = [
      () => killSwitchMiddleware({ guard, toolPrices: { search: 0.25 } }),
      () => new KillSwitchCallbackHandler({ guard, toolPrices: { search: 0.25 } }),
    ]
    for (const entryPoint of build) {
      expect(entryPoint).toThrow(InvalidConfigError)
      try {
        entryPoint()
      } catch (error) {
        expect((error as InvalidConfigError).field).toBe('toolPrices')
      }
    }
  })
})
