// Where a paid tool's price comes from: the kill switch (`createKillSwitch({ toolPrices })`),
// the guard (`ks.guard(credential, { toolPrices })`) or guardTools' own option, decided once
// in the core. Against the real core and the real AI SDK tool loop.
import { InvalidConfigError, toMicros } from '@killswitch/core'
import { generateText, isStepCount, type ToolExecutionOptions, tool } from 'ai'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { guardTools } from './guard-tools.js'
import { withKillSwitch } from './kill-switch-middleware.js'
import { loopingModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

const CALL_COST = 40 * 10 + 20 * 30
const PRICE = 0.25

function search() {
  const calls: unknown[] = []
  const searchTool = tool({
    inputSchema: z.object({ query: z.string() }),
    execute: async (input) => {
      calls.push(input)
      return { results: ['a result'] }
    },
  })
  return { tools: { search: searchTool }, calls }
}

const executionOptions = {
  toolCallId: 'call-1',
  messages: [],
  context: {},
} satisfies ToolExecutionOptions<unknown>

describe('guardTools: tool prices', () => {
  it('holds the price configured on the kill switch, with no toolPrices option', async () => {
    const agent = await testAgent(10, { toolPrices: { search: PRICE } })
    const { tools, calls } = search()
    const credentials = { killSwitch: agent.ks, credential: agent.credential }
    await generateText({
      model: withKillSwitch(loopingModel(), credentials),
      tools: guardTools(tools, credentials),
      stopWhen: isStepCount(2),
      prompt: 'Find GPU prices',
    })
    expect(calls).toHaveLength(2)
    expect(await agent.ledger()).toMatchObject({
      spent: 2 * CALL_COST + 2 * toMicros(PRICE),
      held: 0,
    })
  })

  it("holds the price of a ready guard's toolPrices", async () => {
    const agent = await testAgent(10)
    const guard = agent.ks.guard(agent.credential, { toolPrices: { search: PRICE } })
    const { tools } = search()
    await guardTools(tools, { guard }).search.execute?.({ query: 'x' }, executionOptions)
    expect(await agent.ledger()).toMatchObject({ spent: toMicros(PRICE), held: 0 })
  })

  it("the option's price is over the kill switch's", async () => {
    const agent = await testAgent(10, { toolPrices: { search: 1 } })
    const { tools } = search()
    const guarded = guardTools(tools, {
      killSwitch: agent.ks,
      credential: agent.credential,
      toolPrices: { search: PRICE },
    })
    await guarded.search.execute?.({ query: 'x' }, executionOptions)
    expect(await agent.ledger()).toMatchObject({ spent: toMicros(PRICE), held: 0 })
  })

  it('refuses toolPrices beside a ready guard (its prices are its own), naming the field', async () => {
    const agent = await testAgent(10)
    const { tools } = search()
    const build = () =>
      guardTools(tools, { guard: agent.ks.guard(agent.credential), toolPrices: { search: PRICE } })
    expect(build).toThrow(InvalidConfigError)
    expect(build).toThrow(expect.objectContaining({ field: 'toolPrices' }))
  })

  it('charges a streaming (generator) tool its consumer left early: it ran', async () => {
    const agent = await testAgent(10)
    const progress = tool({
      inputSchema: z.object({ query: z.string() }),
      async *execute() {
        yield { status: 'searching' }
        yield { status: 'done' }
      },
    })
    const guarded = guardTools(
      { progress },
      { killSwitch: agent.ks, credential: agent.credential, toolPrices: { progress: PRICE } },
    )
    const output = guarded.progress.execute?.({ query: 'x' }, executionOptions)
    for await (const _ of output as AsyncIterable<unknown>) break
    expect(await agent.ledger()).toMatchObject({ spent: toMicros(PRICE), held: 0 })
  })

  it('releases a generator tool that throws', async () => {
    const agent = await testAgent(10)
    const failing = tool({
      inputSchema: z.object({ query: z.string() }),
      async *execute() {
        yield { status: 'searching' }
        throw new Error('search API returned 503')
      },
    })
    const guarded = guardTools(
      { failing },
      { killSwitch: agent.ks, credential: agent.credential, toolPrices: { failing: PRICE } },
    )
    const output = guarded.failing.execute?.({ query: 'x' }, executionOptions)
    const read = async () => {
      for await (const _ of output as AsyncIterable<unknown>) {
      }
    }
    await expect(read()).rejects.toThrow('503')
    expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
  })
})
