// killSwitchMiddleware's runs: each agent invocation is a run of its own unless a runId is
// given, so the core's sequence detectors judge a worker's tasks one by one (distinct tasks
// in turn are not one endless run repeating its tools) and a loop inside one invocation is
// still stopped. The real createAgent and ChatOpenAI, under the default runaway settings,
// against a local server whose answers are scripted.
import {
  findKillSwitchError,
  RunawayDetectedError,
  SpendingCapExceededError,
} from '@killswitch/core'
import { ChatOpenAI } from '@langchain/openai'
import { createAgent, tool } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { type OpenAIServer, openAIServer, type ScriptedReply } from './testing/openai-server.js'
import { TEST_MODEL, type TestAgent, testAgent } from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

type Body = Record<string, unknown>
type WireMessage = {
  role: string
  content: unknown
  tool_calls?: Array<{ function: { name: string } }>
}

/**
 * An agent whose model costs `microsPerToken` per token in and out (default $1 per million,
 * about gpt-4o-mini's: a worker's hundreds of calls stay far below any spend rate).
 */
function agentAt(microsPerToken = 1) {
  // Dollars per million tokens are micro-dollars per token.
  const prices = { [TEST_MODEL]: { inputPerMTok: microsPerToken, outputPerMTok: microsPerToken } }
  return testAgent({ spendingCap: 100 }, { prices })
}

/** ChatOpenAI against a server answering as `reply` says, 100 tokens in and 100 out. */
async function chatModel(reply: (body: Body) => ScriptedReply, microsPerToken = 1) {
  const provider = await openAIServer({
    inputTokens: 100,
    outputTokens: 100,
    inputMicros: microsPerToken,
    outputMicros: microsPerToken,
    reply,
  })
  servers.push(provider)
  return new ChatOpenAI({
    model: TEST_MODEL,
    apiKey: 'sk-test',
    maxTokens: 300,
    maxRetries: 0,
    configuration: { baseURL: provider.baseURL },
  })
}

/**
 * A support agent's model checking a refund: the customer, the refund policy (the same call
 * for every customer), then the customer's orders page by page (1 to 4 pages), then answers.
 */
function refundAgentModel(body: Body): ScriptedReply {
  const messages = body.messages as WireMessage[]
  const customer = String(messages.find((m) => m.role === 'user')?.content).match(/C-\d+/)?.[0]
  const called = messages.flatMap((m) => m.tool_calls?.map((call) => call.function.name) ?? [])
  if (!called.includes('get_customer')) {
    return { toolCalls: [{ name: 'get_customer', args: { customer_id: customer } }] }
  }
  if (!called.includes('get_refund_policy')) {
    return { toolCalls: [{ name: 'get_refund_policy', args: { region: 'EU' } }] }
  }
  const pages = called.filter((name) => name === 'list_orders').length
  const last = String(messages.at(-1)?.content)
  if (pages === 0 || last.includes('"has_more":true')) {
    const args = { customer_id: customer, page: pages + 1 }
    return { toolCalls: [{ name: 'list_orders', args }] }
  }
  return { content: `Customer ${customer} gets a refund of 12.00 EUR under the EU policy.` }
}

const pagesOf = (customer: string) => 1 + (Number(customer.slice(2)) % 4)
const refundTools = [
  tool(async ({ customer_id }) => JSON.stringify({ id: customer_id, region: 'EU' }), {
    name: 'get_customer',
    description: 'Get a customer profile',
    schema: z.object({ customer_id: z.string() }),
  }),
  tool(async () => 'Refunds within 14 days of delivery for damaged items.', {
    name: 'get_refund_policy',
    description: 'Get the refund policy for a region',
    schema: z.object({ region: z.string() }),
  }),
  tool(
    async ({ customer_id, page }) =>
      JSON.stringify({ page, has_more: page < pagesOf(customer_id), orders: [`O-${page}`] }),
    {
      name: 'list_orders',
      description: 'List orders, paged',
      schema: z.object({ customer_id: z.string(), page: z.number() }),
    },
  ),
]

const task = (i: number) => ({
  messages: [
    {
      role: 'user',
      content: `Customer C-${100 + i * 13} says their last order arrived damaged. Check their orders and our refund policy and tell me the refund.`,
    },
  ],
})

/**
 * The middleware (options over the agent's), with the run id of each model and tool call
 * it sends the core, in order.
 */
function middlewareOf(agent: TestAgent, options = {}) {
  const killSwitch = killSwitchMiddleware({
    killSwitch: agent.ks,
    credential: agent.credential,
    ...options,
  })
  const runs: Array<string | undefined> = []
  const { guard } = killSwitch
  const startModelCall = guard.startModelCall.bind(guard)
  const runToolCall = guard.runToolCall.bind(guard)
  guard.startModelCall = (request) => {
    runs.push(request.runId)
    return startModelCall(request)
  }
  guard.runToolCall = (call, ...rest) => {
    runs.push(call.runId)
    return runToolCall(call, ...rest)
  }
  return { killSwitch, runs }
}

/** Runs `count` tasks in turn; returns the errors of those refused (the kill switch's). */
async function inTurn(count: number, run: (i: number) => Promise<unknown>) {
  const refused: unknown[] = []
  for (let i = 0; i < count; i++) {
    try {
      await run(i)
    } catch (error) {
      refused.push(findKillSwitchError(error) ?? error)
    }
  }
  return refused
}

async function runawayEntries(agent: TestAgent) {
  const entries = await agent.ks.audit(agent.handle, { limit: 10_000 })
  return entries.filter((entry) => entry.type === 'runaway')
}

describe('killSwitchMiddleware: each agent invocation is a run of its own', () => {
  for (const how of ['invoke', 'stream'] as const) {
    it(`${how}: a worker doing 30 refund tasks in turn, no run id given, is refused none`, async () => {
      const agent = await agentAt()
      const { killSwitch, runs } = middlewareOf(agent)
      const reactAgent = createAgent({
        model: await chatModel(refundAgentModel),
        tools: refundTools,
        middleware: [killSwitch],
        signal: killSwitch.signal,
      })
      const answers: string[] = []
      const refused = await inTurn(30, async (i) => {
        if (how === 'invoke') {
          const { messages } = await reactAgent.invoke(task(i))
          answers.push(String(messages.at(-1)?.content))
          return
        }
        for await (const _ of await reactAgent.stream(task(i), { streamMode: 'values' })) {
          // read to the end
        }
        answers.push('streamed')
      })

      expect(refused).toEqual([])
      expect(answers).toHaveLength(30)
      expect((await agent.ks.agents.get(agent.handle)).status).toBe('active')
      expect(await runawayEntries(agent)).toEqual([])
      // One run per task: every call of a task in it, and 30 runs.
      expect(runs.every((runId) => typeof runId === 'string')).toBe(true)
      expect(new Set(runs).size).toBe(30)
    })
  }

  it('the same tool called with the same arguments inside one invocation is still stopped', async () => {
    const agent = await agentAt()
    const { killSwitch } = middlewareOf(agent)
    let searches = 0
    const search = tool(async () => `results ${++searches}`, {
      name: 'search',
      description: 'Web search',
      schema: z.object({ q: z.string() }),
    })
    const model = await chatModel(() => ({
      toolCalls: [{ name: 'search', args: { q: 'the same query' } }],
    }))
    const reactAgent = createAgent({ model, tools: [search], middleware: [killSwitch] })
    const refused = await inTurn(1, () => reactAgent.invoke(task(0), { recursionLimit: 1000 }))

    expect(refused[0]).toBeInstanceOf(RunawayDetectedError)
    expect((refused[0] as RunawayDetectedError).detector).toBe('repeated-tool-call')
    expect(searches).toBe(4)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })

  it('one invocation paging on without end (arguments only differing by a number) is stopped', async () => {
    const agent = await agentAt()
    const { killSwitch } = middlewareOf(agent)
    let pages = 0
    const listOrders = tool(async ({ page }) => JSON.stringify({ page, has_more: true }), {
      name: 'list_orders',
      description: 'List orders, paged',
      schema: z.object({ customer_id: z.string(), page: z.number() }),
    })
    const model = await chatModel(() => ({
      toolCalls: [{ name: 'list_orders', args: { customer_id: 'C-100', page: ++pages } }],
    }))
    const reactAgent = createAgent({ model, tools: [listOrders], middleware: [killSwitch] })
    const refused = await inTurn(1, () => reactAgent.invoke(task(0), { recursionLimit: 1000 }))

    expect(refused[0]).toBeInstanceOf(RunawayDetectedError)
    expect(pages).toBeLessThan(15)
  })

  it('a runId given wins: the options’, and over it each invocation’s configurable.killswitch', async () => {
    const agent = await agentAt()
    const { killSwitch, runs } = middlewareOf(agent, { runId: 'nightly-batch' })
    const reactAgent = createAgent({
      model: await chatModel(refundAgentModel),
      tools: refundTools,
      middleware: [killSwitch],
    })
    await reactAgent.invoke(task(0))
    await reactAgent.invoke(task(1), { configurable: { killswitch: { runId: 'ticket-1' } } })

    const first = runs.indexOf('ticket-1')
    expect(first).toBeGreaterThan(0)
    expect(runs.slice(0, first).every((runId) => runId === 'nightly-batch')).toBe(true)
    expect(runs.slice(first).every((runId) => runId === 'ticket-1')).toBe(true)
  })

  it("a runCap in the options, without runId, caps each invocation's own run", async () => {
    // $1 per thousand tokens: a call holds $2.3 to $3 (its input and 300 output tokens) and
    // costs $0.2, so a $3 run cap lets each task make a few of its 4 to 7 model calls.
    const agent = await agentAt(1000)
    const { killSwitch, runs } = middlewareOf(agent, { runCap: 3 })
    const reactAgent = createAgent({
      model: await chatModel(refundAgentModel, 1000),
      tools: refundTools,
      middleware: [killSwitch],
    })
    const refused = await inTurn(3, (i) => reactAgent.invoke(task(i)))

    expect(refused).toHaveLength(3)
    for (const error of refused) {
      expect(error).toBeInstanceOf(SpendingCapExceededError)
      expect(error).toMatchObject({ level: 'budget', budgetId: expect.stringMatching(/^run:/) })
    }
    // Three runs, each refused after calls of its own (a model call and its tool) went through.
    const budgets = new Set(refused.map((error) => (error as { budgetId: string }).budgetId))
    expect(budgets.size).toBe(3)
    const callsPerRun = [...new Set(runs)].map((runId) => runs.filter((r) => r === runId).length)
    expect(callsPerRun).toHaveLength(3)
    for (const calls of callsPerRun) expect(calls).toBeGreaterThan(2)
    expect((await agent.ks.agents.get(agent.handle)).spent).toBeLessThanOrEqual(3 * 3)
  })
})
