// Middlewares that call a model of their own (summarization, tool selection, tool emulation)
// do so outside the agent's model node, where killSwitchMiddleware cannot see the call. The
// README's answer: the side model is guarded for the same agent, by guardModel or by a
// KillSwitchCallbackHandler on it.
// Real ChatOpenAI clients against local servers that keep their own bills.
import { AgentRevokedError, findKillSwitchError, toMicros } from '@killswitch/core'
import { createAgent, summarizationMiddleware } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { guardModel } from './guard-model.js'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import type { OpenAIServer } from './testing/openai-server.js'
import { chatOpenAI, testAgent } from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** Enough history for the summarization middleware to summarise before the model call. */
const history = Array.from({ length: 6 }, (_, i) => ({
  role: i % 2 === 0 ? 'user' : 'assistant',
  content: `message ${i}`,
}))

type SideGuard = 'none' | 'callback handler' | 'guardModel'

async function setup(sideGuard: SideGuard) {
  const agent = await testAgent({ spendingCap: 100 })
  const guarded = { killSwitch: agent.ks, credential: agent.credential }
  const main = await chatOpenAI({ outputTokens: 40, fields: { maxTokens: 100 } })
  const side = await chatOpenAI({
    outputTokens: 300,
    fields: {
      maxTokens: 1000,
      ...(sideGuard === 'callback handler'
        ? { callbacks: [new KillSwitchCallbackHandler(guarded)] }
        : {}),
    },
  })
  const summarizer = sideGuard === 'guardModel' ? guardModel(side.model, guarded) : side.model
  servers.push(main.provider, side.provider)
  const graph = createAgent({
    model: main.model,
    tools: [],
    middleware: [
      summarizationMiddleware({
        model: summarizer,
        trigger: { messages: 3 },
        keep: { messages: 1 },
      }),
      killSwitchMiddleware(guarded),
    ],
  })
  const ledger = async () => {
    const record = await agent.ks.agents.get(agent.handle)
    return { spent: toMicros(record.spent), held: toMicros(record.held) }
  }
  return { agent, graph, main: main.provider, side: side.provider, ledger }
}

describe('createAgent: a middleware that calls a model of its own', () => {
  it('unguarded, its call is billed and never recorded (why the README says to guard it)', async () => {
    const { graph, main, side, ledger } = await setup('none')
    await graph.invoke({ messages: history })
    expect(side.requests).toHaveLength(1)
    expect(side.billMicros()).toBeGreaterThan(0)
    expect((await ledger()).spent).toBe(main.billMicros())
  })

  for (const sideGuard of ['callback handler', 'guardModel'] as const) {
    it(`with ${sideGuard}, its call is held and settled on the same cap`, async () => {
      const { graph, main, side, ledger } = await setup(sideGuard)
      await graph.invoke({ messages: history })
      expect(side.requests).toHaveLength(1)
      expect(await ledger()).toEqual({ spent: main.billMicros() + side.billMicros(), held: 0 })
    })

    it(`with ${sideGuard}, a revoked agent makes no side call either`, async () => {
      const { agent, graph, main, side } = await setup(sideGuard)
      await agent.ks.agents.revoke(agent.handle)
      const error = await graph.invoke({ messages: history }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      )
      expect(findKillSwitchError(error)).toBeInstanceOf(AgentRevokedError)
      expect(side.requests).toHaveLength(0)
      expect(main.requests).toHaveLength(0)
    })
  }
})
