// A structured output by function calling (`withStructuredOutput`: ChatOpenAI's default for
// gpt-4 and gpt-3.5, `method: 'functionCalling'` for any model) asks for its answer as a
// call of the schema's function, which LangChain parses and no app runs: guardModel holds and
// settles the model call, and does not judge the answer as a tool call (a classifier's 40
// identical labels are not a tool looping). Real tools bound to the model are still checked.
// The real ChatOpenAI, under the default runaway settings, against a local server.
import { findKillSwitchError, RunawayDetectedError } from '@killswitch/core'
import { ChatOpenAI } from '@langchain/openai'
import { createAgent, providerStrategy, toolStrategy } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { guardModel } from './guard-model.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { type OpenAIServer, openAIServer, type ScriptedReply } from './testing/openai-server.js'
import {
  ledger,
  rejection,
  searchTool,
  TEST_MODEL,
  type TestAgent,
  testAgent,
} from './testing/test-kit.js'

// gpt-4-turbo: ChatOpenAI's default structured-output method for it is function calling.
const MODEL = 'gpt-4-turbo'
// gpt-4o: createAgent's default strategy for a bare schema is its native structured output.
const NATIVE_MODEL = 'gpt-4o'
const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** An agent under the default runaway settings, and ChatOpenAI against a scripted server. */
async function setup(model: string, reply: (body: Record<string, unknown>) => ScriptedReply) {
  // $1 per million tokens in and out (about gpt-4o-mini's), a micro-dollar a token: a
  // classifier's calls stay far below any spend rate.
  const price = { inputPerMTok: 1, outputPerMTok: 1 }
  const agent = await testAgent(
    { spendingCap: 100 },
    { prices: { [TEST_MODEL]: price, [MODEL]: price, [NATIVE_MODEL]: price } },
  )
  const provider = await openAIServer({
    // As many as the guard could count of an answer's arguments: settled at the bill.
    inputTokens: 100,
    outputTokens: 100,
    inputMicros: 1,
    outputMicros: 1,
    reply,
  })
  servers.push(provider)
  const chat = new ChatOpenAI({
    model,
    apiKey: 'sk-test',
    maxTokens: 200,
    maxRetries: 0,
    configuration: { baseURL: provider.baseURL },
  })
  const guarded = guardModel(chat, { killSwitch: agent.ks, credential: agent.credential })
  return { agent, provider, chat, guarded }
}

/** The last message's text of a request body. */
function lastText(body: Record<string, unknown>): string {
  const messages = body.messages as Array<{ content: unknown }>
  return String(messages.at(-1)?.content)
}

/** The function the request's tools declare first (the schema of a structured output). */
function firstFunction(body: Record<string, unknown>): string {
  const tools = body.tools as Array<{ function: { name: string } }> | undefined
  return tools?.[0]?.function.name ?? 'none'
}

async function runawayEntries(agent: TestAgent) {
  const entries = await agent.ks.audit(agent.handle, { limit: 10_000 })
  return entries.filter((entry) => entry.type === 'runaway')
}

/** Runs each task in turn; returns what each answered or the kill switch error's code. */
async function inTurn<T>(count: number, task: (i: number) => Promise<T>) {
  const answers: T[] = []
  const refused: unknown[] = []
  for (let i = 0; i < count; i++) {
    try {
      answers.push(await task(i))
    } catch (error) {
      refused.push(findKillSwitchError(error) ?? error)
    }
  }
  return { answers, refused }
}

const label = z.object({ label: z.enum(['billing', 'bug', 'other']) })

describe('guardModel: a structured output by function calling is the answer, not a tool call', () => {
  for (const how of ['invoke', 'stream'] as const) {
    it(`${how}: 40 tickets given the same label in turn are all answered; the agent stays active`, async () => {
      const { agent, provider, guarded } = await setup(MODEL, (body) => ({
        toolCalls: [{ name: firstFunction(body), args: { label: 'billing' } }],
      }))
      const classify = guarded.withStructuredOutput(label, { name: 'classify' })
      const ask = (i: number) => [
        ['system', 'Classify the ticket.'],
        ['human', `Ticket ${i}: charged twice for my plan`],
      ]
      const { answers, refused } = await inTurn(40, async (i) => {
        if (how === 'invoke') return classify.invoke(ask(i) as never)
        let last: unknown
        for await (const part of await classify.stream(ask(i) as never)) last = part
        return last
      })

      expect(refused).toEqual([])
      expect(answers).toHaveLength(40)
      expect(answers.every((answer) => (answer as { label?: string }).label === 'billing')).toBe(
        true,
      )
      // Function calling indeed: the schema was the only tool, forced.
      expect(provider.requests).toHaveLength(40)
      expect(provider.requests[0]).toMatchObject({
        tools: [{ function: { name: 'classify' } }],
        tool_choice: { type: 'function', function: { name: 'classify' } },
      })
      expect((await agent.ks.agents.get(agent.handle)).status).toBe('active')
      expect(await runawayEntries(agent)).toEqual([])
      // Each call was held and settled at the provider's bill.
      expect(agent.settled).toHaveLength(40)
      expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
    })
  }

  it('20 invoices extracted in turn (functionCalling on any model), values varying, are all answered', async () => {
    const { agent, provider, guarded } = await setup(TEST_MODEL, (body) => {
      const [, number, total] = lastText(body).match(/Invoice (\d+).*?(\d+\.\d\d)/) ?? []
      const args = { invoice_number: number, total: Number(total), currency: 'EUR' }
      return { toolCalls: [{ name: firstFunction(body), args }] }
    })
    const invoice = z.object({
      invoice_number: z.string(),
      total: z.number(),
      currency: z.enum(['EUR', 'USD']),
    })
    const extract = guarded.withStructuredOutput(invoice, {
      name: 'extract_invoice',
      method: 'functionCalling',
    })
    const { answers, refused } = await inTurn(20, (i) =>
      extract.invoke([
        ['system', 'Extract the invoice fields.'],
        ['human', `Invoice ${5000 + i} from ACME GmbH. Total due: ${100 + (i % 3) * 50}.00 EUR.`],
      ]),
    )

    expect(refused).toEqual([])
    expect(answers.map((answer) => answer.invoice_number)).toEqual(
      Array.from({ length: 20 }, (_, i) => String(5000 + i)),
    )
    expect(provider.requests[0]).toMatchObject({
      tool_choice: { type: 'function', function: { name: 'extract_invoice' } },
    })
    expect((await agent.ks.agents.get(agent.handle)).status).toBe('active')
    expect(await runawayEntries(agent)).toEqual([])
    expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
  })
})

describe('guardModel: the tools an app runs are still checked', () => {
  for (const how of ['invoke', 'stream'] as const) {
    it(`${how}: a bound tool asked for with the same arguments is refused at its 5th call`, async () => {
      const { agent, guarded } = await setup(TEST_MODEL, () => ({
        toolCalls: [{ name: 'search', args: { q: 'the same query' } }],
      }))
      const { search } = searchTool()
      const bound = guarded.bindTools([search])
      const { answers, refused } = await inTurn(8, async () => {
        if (how === 'invoke') return bound.invoke('Find it.')
        for await (const _ of await bound.stream('Find it.')) {
          // read to the end
        }
      })

      expect(answers).toHaveLength(4)
      expect(refused[0]).toBeInstanceOf(RunawayDetectedError)
      expect((refused[0] as RunawayDetectedError).detector).toBe('repeated-tool-call')
      expect((await agent.ks.agents.get(agent.handle)).status).toBe('revoked')
    })
  }

  it("createAgent's native structured output: the agent's tools sent beside it are checked", async () => {
    // The call is marked as a structured output (json_schema) and binds one tool, the
    // agent's own: its identical calls are a loop, stopped at the 5th.
    const { agent, guarded } = await setup(TEST_MODEL, () => ({
      toolCalls: [{ name: 'search', args: { q: 'the same query' } }],
    }))
    const { search, calls } = searchTool()
    const reactAgent = createAgent({
      model: guarded,
      tools: [search],
      responseFormat: providerStrategy(z.object({ answer: z.string() })),
    })
    const error = await rejection(
      reactAgent.invoke({ messages: [{ role: 'user', content: 'Find it.' }] }),
    )

    const stopped = findKillSwitchError(error)
    expect(stopped).toBeInstanceOf(RunawayDetectedError)
    expect((stopped as RunawayDetectedError).detector).toBe('repeated-tool-call')
    expect(calls).toHaveLength(4)
    expect((await agent.ks.agents.get(agent.handle)).held).toBe(0)
  })
})

// With a responseFormat, createAgent's model handler returns `{ structuredResponse, messages }`
// rather than the model's AIMessage: the middleware reads the usage from the model's message
// in it, so each call is settled at the provider's bill, not its whole hold.
describe('killSwitchMiddleware: createAgent with a responseFormat is settled at the usage', () => {
  const asTool = { tools: [{ function: { name: expect.stringMatching(/^extract-/) } }] }
  const native = { response_format: { type: 'json_schema' } }
  const strategies = [
    ['toolStrategy', () => toolStrategy(label), asTool],
    ['providerStrategy', () => providerStrategy(label), native],
    ['a bare zod schema', () => label, native],
  ] as const

  /** A classifier agent answering `billing` to every ticket, in the given strategy. */
  async function classifier(
    // The strategies differ in type only: an answer is the label's either way.
    responseFormat: () => unknown,
    runId?: string,
  ) {
    const { agent, provider, chat } = await setup(NATIVE_MODEL, (body) =>
      body.response_format === undefined
        ? { toolCalls: [{ name: firstFunction(body), args: { label: 'billing' } }] }
        : { content: JSON.stringify({ label: 'billing' }) },
    )
    const options = { killSwitch: agent.ks, credential: agent.credential, runId }
    const reactAgent = createAgent({
      model: chat,
      tools: [],
      middleware: [killSwitchMiddleware(options)],
      responseFormat: responseFormat() as typeof label,
    })
    const classify = (i: number) =>
      reactAgent.invoke({
        messages: [{ role: 'user', content: `Ticket ${i}: charged twice for my plan` }],
      })
    return { agent, provider, classify }
  }

  for (const [name, responseFormat, sent] of strategies) {
    it(`${name}: 5 tickets classified in turn, each settled at the provider's bill`, async () => {
      const { agent, provider, classify } = await classifier(responseFormat)
      const { answers, refused } = await inTurn(5, classify)

      expect(refused).toEqual([])
      expect(answers.map((answer) => answer.structuredResponse)).toEqual(
        Array(5).fill({ label: 'billing' }),
      )
      expect(provider.requests).toHaveLength(5)
      expect(provider.requests[0]).toMatchObject(sent)
      expect(agent.settled).toHaveLength(5)
      expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
    })
  }

  it("toolStrategy: the answer's tool call is no tool looping, 40 labels in one run", async () => {
    const { agent, provider, classify } = await classifier(() => toolStrategy(label), 'batch')
    const { answers, refused } = await inTurn(40, classify)

    expect(refused).toEqual([])
    expect(answers).toHaveLength(40)
    expect((await agent.ks.agents.get(agent.handle)).status).toBe('active')
    expect(await runawayEntries(agent)).toEqual([])
    expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
  })
})
