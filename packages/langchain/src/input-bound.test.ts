// The input a call is held for is what the provider bills as input, whichever entry point
// sends it: guardModel and the callback handler read ChatOpenAI's `invocationParams`, which
// name every setting the model has (undefined ones too), the middleware reads createAgent's
// request. Red team rt41a: "hi" was held at 515 input tokens by guardModel, 206 by the
// middleware, and every call ending before its usage was charged the difference.
import { HumanMessage } from '@langchain/core/messages'
import type { ChatOpenAI } from '@langchain/openai'
import { createAgent } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { guardModel } from './guard-model.js'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import type { OpenAIServer } from './testing/openai-server.js'
import {
  chatOpenAI,
  guardedBy,
  ledger,
  searchTool,
  type TestAgent,
  testAgent,
} from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

type Path = 'middleware' | 'guardModel' | 'guardModel, streamed' | 'callback handler'
type Tools = ReturnType<typeof searchTool>['search'][]

const PROMPT = 'Summarise the quarterly report in three bullet points.'

// Settings the provider does not bill as input: never sized as if they were.
const SETTINGS = { maxTokens: 1000, temperature: 0.2, topP: 0.9, presencePenalty: 0.1, seed: 7 }

/** An agent, and ChatOpenAI with SETTINGS against a server billing $1 per thousand tokens. */
async function setup(outputTokens: number) {
  const agent = await testAgent({ spendingCap: 100 })
  const server = { tokenEveryMs: 2 }
  const { model, provider } = await chatOpenAI({ outputTokens, fields: SETTINGS, server })
  servers.push(provider)
  return { agent, model, provider }
}

/** The input bound of the hold of the agent's first call. */
async function holdBound(agent: TestAgent) {
  const hold = (await agent.ks.audit(agent.handle)).find((entry) => entry.type === 'hold')
  return Number(hold?.data.inputTokenBound)
}

/** The input bound a call of PROMPT through `path`, with `tools`, is held for. */
async function heldInput(path: Path, tools: Tools = []) {
  const { agent, model, provider } = await setup(5)
  const message = new HumanMessage(PROMPT)
  if (path === 'middleware') {
    const middleware = [killSwitchMiddleware(guardedBy(agent))]
    await createAgent({ model, tools, middleware }).invoke({ messages: [message] })
  } else if (path === 'callback handler') {
    const handler = new KillSwitchCallbackHandler(guardedBy(agent))
    const bound = tools.length > 0 ? (model.bindTools(tools) as ChatOpenAI) : model
    await bound.invoke([message], { callbacks: [handler] })
  } else {
    const guarded = guardModel(model, guardedBy(agent))
    const bound = tools.length > 0 ? (guarded.bindTools(tools) as ChatOpenAI) : guarded
    if (path === 'guardModel') await bound.invoke([message])
    else for await (const _ of await bound.stream([message])) void _
  }
  expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
  return holdBound(agent)
}

describe("the input bound: the request's content, not its settings", () => {
  const paths = ['guardModel', 'guardModel, streamed', 'callback handler'] as const

  for (const path of paths) {
    it(`${path} holds the input the middleware holds for the same call`, async () => {
      const middleware = await heldInput('middleware')
      const held = await heldInput(path)
      expect(Math.abs(held - middleware)).toBeLessThanOrEqual(4)
    })

    it(`${path}: a tool schema bound with bindTools is still sized`, async () => {
      const { search } = searchTool()
      const plain = await heldInput(path)
      const withTool = await heldInput(path, [search])
      // Its JSON schema, and the tokens a provider adds around a request with tools.
      expect(withTool - plain).toBeGreaterThan(1_024 + 100)
      const middleware = await heldInput('middleware', [search])
      expect(Math.abs(withTool - middleware)).toBeLessThanOrEqual(4)
    })
  }

  it("guardModel: a consumer's break is charged the prompt's bound and what streamed", async () => {
    // Ended before its usage: charged its input at the bound, settings not among it (red
    // team rt41a: 2.5x the middleware's charge for the same break).
    const middleware = await heldInput('middleware')
    const { agent, model, provider } = await setup(1000)
    let chunks = 0
    for await (const _ of await guardModel(model, guardedBy(agent)).stream(PROMPT)) {
      if (++chunks === 5) break
    }
    expect(await provider.stopped()).toBe('disconnected')
    const entries = await agent.ks.audit(agent.handle)
    const settled = entries.find((entry) => entry.type === 'settled')?.data
    expect(settled?.basis).toBe('counted')
    expect(await holdBound(agent)).toBe(middleware)
    // $1 per thousand tokens: 1,000 micro-dollars a token, in or out.
    const counted = middleware + Number(settled?.outputTokens)
    const after = await ledger(agent)
    expect(after).toEqual({ spent: counted * 1000, held: 0 })
    expect(after.spent).toBeGreaterThanOrEqual(provider.billMicros())
  })
})
