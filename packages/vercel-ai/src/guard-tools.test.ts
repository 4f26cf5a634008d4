// guardTools: paid tools on the same cap, against the real core and the real AI SDK loop.
import {
  AgentRevokedError,
  InvalidConfigError,
  type Observation,
  type RunawayMonitor,
  SpendingCapExceededError,
  toMicros,
} from '@killswitch/core'
import { generateText, isStepCount, type ToolExecutionOptions, tool } from 'ai'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { guardTools } from './guard-tools.js'
import { withKillSwitch } from './kill-switch-middleware.js'
import { loopingModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

const CALL_COST = 40 * 10 + 20 * 30
const SEARCH_PRICE = 0.25

function paidSearch(fail = false) {
  const calls: unknown[] = []
  const search = tool({
    description: 'A paid search API',
    inputSchema: z.object({ query: z.string() }),
    execute: async (input) => {
      calls.push(input)
      if (fail) throw new Error('search API returned 503')
      return { results: ['a result'] }
    },
  })
  return { tools: { search }, calls }
}

const executionOptions = {
  toolCallId: 'call-1',
  messages: [],
  context: {},
} satisfies ToolExecutionOptions<unknown>

/** A paid generator tool, wrapped, and its output for one call. */
async function generatorTool(execute: () => AsyncGenerator<unknown>) {
  const agent = await testAgent(10)
  const progress = tool({ inputSchema: z.object({ query: z.string() }), execute })
  const guarded = guardTools(
    { progress },
    { killSwitch: agent.ks, credential: agent.credential, toolPrices: { progress: SEARCH_PRICE } },
  )
  const output = guarded.progress.execute?.({ query: 'x' }, executionOptions)
  return { agent, output: output as AsyncIterable<unknown> }
}

describe('guardTools', () => {
  for (const where of ['the option', 'the kill switch'] as const) {
    it(`holds and settles a paid tool per call, priced in ${where}, on the same cap as the model`, async () => {
      const prices = { toolPrices: { search: SEARCH_PRICE } }
      const agent = await testAgent(10, where === 'the kill switch' ? prices : {})
      const { tools, calls } = paidSearch()
      const credentials = { killSwitch: agent.ks, credential: agent.credential }
      await generateText({
        model: withKillSwitch(loopingModel(), credentials),
        tools: guardTools(
          tools,
          where === 'the option' ? { ...credentials, ...prices } : credentials,
        ),
        stopWhen: isStepCount(3),
        prompt: 'Find GPU prices',
      })
      expect(calls).toHaveLength(3)
      expect(await agent.ledger()).toMatchObject({
        spent: 3 * CALL_COST + 3 * toMicros(SEARCH_PRICE),
        held: 0,
      })
    })
  }

  it('refuses a paid tool the budget cannot pay for: the tool never runs', async () => {
    const agent = await testAgent(0.1)
    const { tools, calls } = paidSearch()
    const credentials = { killSwitch: agent.ks, credential: agent.credential }
    const result = await generateText({
      model: withKillSwitch(loopingModel(), credentials),
      tools: guardTools(tools, { ...credentials, toolPrices: { search: 0.5 } }),
      stopWhen: isStepCount(2),
      prompt: 'Find GPU prices',
    })
    expect(calls).toHaveLength(0)
    // The AI SDK reports a throwing tool to the model as a tool error, with our error inside.
    const toolError = result.steps[0]?.content.find((part) => part.type === 'tool-error')
    expect(toolError?.error).toBeInstanceOf(SpendingCapExceededError)
    expect(await agent.ledger()).toMatchObject({ spent: 2 * CALL_COST, held: 0 })
  })

  it('charges a paid tool that fails after it started (it may have spent)', async () => {
    const agent = await testAgent(10)
    const { tools, calls } = paidSearch(true)
    const guarded = guardTools(tools, {
      killSwitch: agent.ks,
      credential: agent.credential,
      toolPrices: { search: SEARCH_PRICE },
    })
    await expect(guarded.search.execute?.({ query: 'x' }, executionOptions)).rejects.toThrow('503')
    expect(calls).toHaveLength(1)
    expect(await agent.ledger()).toMatchObject({ spent: toMicros(SEARCH_PRICE), held: 0 })
  })

  it("does not run a revoked agent's tools, free or paid", async () => {
    const agent = await testAgent(10)
    const free = paidSearch()
    const paid = paidSearch()
    const credentials = { killSwitch: agent.ks, credential: agent.credential }
    const freeTools = guardTools(free.tools, credentials)
    const paidTools = guardTools(paid.tools, {
      ...credentials,
      toolPrices: { search: SEARCH_PRICE },
    })
    await agent.revoke()
    const input = { query: 'x' }
    await expect(freeTools.search.execute?.(input, executionOptions)).rejects.toBeInstanceOf(
      AgentRevokedError,
    )
    await expect(paidTools.search.execute?.(input, executionOptions)).rejects.toBeInstanceOf(
      AgentRevokedError,
    )
    expect(free.calls).toHaveLength(0)
    expect(paid.calls).toHaveLength(0)
  })

  it("aborts a running tool when its agent is revoked (its own signal, the caller's too), and charges it", async () => {
    const agent = await testAgent(10)
    const pages: number[] = []
    let aborted: unknown
    const crawl = tool({
      description: 'Crawls 30 pages, one every 5 ms',
      inputSchema: z.object({ site: z.string() }),
      execute: async (_input, { abortSignal }) => {
        for (let page = 0; page < 30; page++) {
          if (abortSignal?.aborted) {
            aborted = abortSignal.reason
            throw abortSignal.reason
          }
          pages.push(page)
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        return 'done'
      },
    })
    const tools = guardTools(
      { crawl },
      { killSwitch: agent.ks, credential: agent.credential, toolPrices: { crawl: SEARCH_PRICE } },
    )
    const caller = new AbortController()
    const running = tools.crawl.execute?.(
      { site: 'x' },
      { ...executionOptions, abortSignal: caller.signal },
    )
    await new Promise((resolve) => setTimeout(resolve, 30))
    await agent.revoke()
    await expect(running).rejects.toBeInstanceOf(AgentRevokedError)
    expect(aborted).toBeInstanceOf(AgentRevokedError)
    expect(pages.length).toBeLessThan(15)
    // It ran: its price is charged.
    expect(await agent.ledger()).toMatchObject({ spent: toMicros(SEARCH_PRICE), held: 0 })

    // The caller's own signal still reaches the tool.
    const second = await testAgent(10)
    const own = guardTools({ crawl }, { killSwitch: second.ks, credential: second.credential })
    const stop = new AbortController()
    const run = own.crawl.execute?.(
      { site: 'y' },
      { ...executionOptions, abortSignal: stop.signal },
    )
    stop.abort(new Error('caller stopped'))
    await expect(run).rejects.toThrow('caller stopped')
  })

  it('keeps a streaming (generator) tool streaming, and charges it when it completes', async () => {
    const run = await generatorTool(async function* () {
      yield { status: 'searching' }
      yield { status: 'done', results: 3 }
    })
    const seen: unknown[] = []
    for await (const part of run.output) seen.push(part)
    expect(seen).toEqual([{ status: 'searching' }, { status: 'done', results: 3 }])
    expect(await run.agent.ledger()).toMatchObject({ spent: toMicros(SEARCH_PRICE), held: 0 })
  })

  it('charges a generator tool its consumer left early and one that throws (both ran)', async () => {
    const left = await generatorTool(async function* () {
      yield { status: 'searching' }
      yield { status: 'done' }
    })
    for await (const _ of left.output) break
    expect(await left.agent.ledger()).toMatchObject({ spent: toMicros(SEARCH_PRICE), held: 0 })
    const failed = await generatorTool(async function* () {
      yield { status: 'searching' }
      throw new Error('search API returned 503')
    })
    const read = async () => {
      for await (const _ of failed.output) {
      }
    }
    await expect(read()).rejects.toThrow('503')
    expect(await failed.agent.ledger()).toMatchObject({ spent: toMicros(SEARCH_PRICE), held: 0 })
  })

  it('refuses a price for a tool that does not exist, naming the field', async () => {
    const agent = await testAgent(10)
    const { tools } = paidSearch()
    const misspelled = () =>
      guardTools(tools, {
        killSwitch: agent.ks,
        credential: agent.credential,
        // @ts-expect-error: the misspelling is the point
        toolPrices: { serach: 0.01 },
      })
    expect(misspelled).toThrow(InvalidConfigError)
    expect(misspelled).toThrow(expect.objectContaining({ field: 'toolPrices.serach' }))
    const negative = () =>
      guardTools(tools, {
        killSwitch: agent.ks,
        credential: agent.credential,
        toolPrices: { search: -1 },
      })
    expect(negative).toThrow(expect.objectContaining({ field: 'toolPrices.search' }))
  })

  it('counts each tool call once for runaway detection when used with the middleware', async () => {
    const observed: Observation[] = []
    const recorder: RunawayMonitor = {
      observe: async (_agent, observation) => {
        observed.push(observation)
        return { action: 'none', enforced: true }
      },
    }
    const agent = await testAgent(10, { runaway: recorder })
    const { tools, calls } = paidSearch()
    const credentials = { killSwitch: agent.ks, credential: agent.credential }
    await generateText({
      model: withKillSwitch(loopingModel(), credentials),
      tools: guardTools(tools, { ...credentials, toolPrices: { search: SEARCH_PRICE } }),
      stopWhen: isStepCount(3),
      prompt: 'Find GPU prices',
    })
    expect(calls).toHaveLength(3)
    expect(observed.filter((observation) => observation.kind === 'tool_call')).toHaveLength(3)
  })

  it("holds a ready guard's price; the option's price is over the kill switch's", async () => {
    const agent = await testAgent(10, { toolPrices: { search: 1 } })
    const { tools } = paidSearch()
    const guard = agent.ks.guard(agent.credential, { toolPrices: { search: SEARCH_PRICE } })
    await guardTools(tools, { guard }).search.execute?.({ query: 'x' }, executionOptions)
    const options = { killSwitch: agent.ks, credential: agent.credential }
    const priced = guardTools(tools, { ...options, toolPrices: { search: SEARCH_PRICE } })
    await priced.search.execute?.({ query: 'x' }, executionOptions)
    expect(await agent.ledger()).toMatchObject({ spent: 2 * toMicros(SEARCH_PRICE), held: 0 })
  })

  it('refuses toolPrices beside a ready guard (its prices are its own), naming the field', async () => {
    const agent = await testAgent(10)
    const { tools } = paidSearch()
    const guard = agent.ks.guard(agent.credential)
    const build = () => guardTools(tools, { guard, toolPrices: { search: SEARCH_PRICE } })
    expect(build).toThrow(InvalidConfigError)
    expect(build).toThrow(expect.objectContaining({ field: 'toolPrices' }))
  })
})
