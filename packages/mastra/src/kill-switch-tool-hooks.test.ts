import { Agent } from '@mastra/core/agent'
import { createTool } from '@mastra/core/tools'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  asMastraModel,
  killSwitchWithAgent,
  loopingModel,
  modelCalls,
  quiet,
} from '../test/mock-agent.js'
import { killSwitchToolHooks } from './kill-switch-tool-hooks.js'

/** A search tool that revokes the agent from inside its second run (an operator pulling the switch). */
async function setup(toolPrices?: Record<string, number>) {
  const { ks, credential, handle } = await killSwitchWithAgent(1)
  const counter = { runs: 0 }
  const search = createTool({
    id: 'search',
    description: 'Searches the web.',
    inputSchema: z.object({ query: z.string() }),
    execute: async () => {
      counter.runs++
      if (counter.runs === 2) await ks.agents.revoke(handle, { reason: 'test: operator' })
      return { hits: ['result'] }
    },
  })
  const model = loopingModel()
  const agent = quiet(
    new Agent({
      id: 'looper',
      name: 'looper',
      instructions: 'Search until you are told to stop.',
      model: asMastraModel(model),
      tools: { search },
      hooks: killSwitchToolHooks({
        killSwitch: ks,
        credential,
        ...(toolPrices ? { toolPrices } : {}),
      }),
    }),
  )
  return { ks, handle, counter, model, agent }
}

describe('killSwitchToolHooks', () => {
  it('skips tool calls once the agent is revoked and returns the refusal to the model', async () => {
    const { counter, model, agent } = await setup()

    const result = await agent.generate('go', { maxSteps: 4 })

    // A soft block: the run went on to its step limit, but the tool never ran again.
    expect(modelCalls(model)).toBe(4)
    expect(counter.runs).toBe(2)
    const outputs = result.steps.flatMap((step) => step.toolResults.map((r) => r.payload.result))
    expect(outputs.slice(2)).toEqual([
      { error: { code: 'agent_revoked', message: expect.stringContaining('revoked') } },
      { error: { code: 'agent_revoked', message: expect.stringContaining('revoked') } },
    ])
  })

  it('holds and settles a paid tool, and leaves nothing held', async () => {
    const { ks, handle, counter, agent } = await setup({ search: 0.01 })

    await agent.generate('go', { maxSteps: 4 })

    const agentNow = await ks.agents.get(handle)
    expect(counter.runs).toBe(2)
    expect(Math.round(agentNow.spent * 1_000_000)).toBe(2 * 10_000)
    expect(agentNow.held).toBe(0)
  })

  it('charges a paid tool that fails after it started (it may have spent)', async () => {
    const { ks, credential, handle } = await killSwitchWithAgent(1)
    const failing = createTool({
      id: 'search',
      description: 'Searches the web.',
      inputSchema: z.object({ query: z.string() }),
      execute: async () => {
        throw new Error('search API down')
      },
    })
    const agent = quiet(
      new Agent({
        id: 'looper',
        name: 'looper',
        instructions: 'Search until you are told to stop.',
        model: asMastraModel(loopingModel()),
        tools: { search: failing },
        hooks: killSwitchToolHooks({ killSwitch: ks, credential, toolPrices: { search: 0.01 } }),
      }),
    )

    await agent.generate('go', { maxSteps: 3 })

    const agentNow = await ks.agents.get(handle)
    const failures = (await ks.audit(handle)).filter((entry) => entry.data.failed !== undefined)
    expect(failures).toHaveLength(3)
    expect(failures.map((entry) => entry.type)).toEqual(['settled', 'settled', 'settled'])
    expect(agentNow).toMatchObject({ spent: 0.03, held: 0 })
  })

  it('releases a paid tool Mastra refused for its input before it ran; charges one whose output failed its check (it ran)', async () => {
    const { ks, credential, handle } = await killSwitchWithAgent(1)
    const runs = { search: 0, lookup: 0 }
    const search = createTool({
      id: 'search',
      description: 'Searches the web.',
      inputSchema: z.object({ query: z.string() }),
      execute: async () => {
        runs.search++
        return { hits: [] }
      },
    })
    const lookup = createTool({
      id: 'lookup',
      description: 'Looks a record up.',
      inputSchema: z.object({ query: z.unknown() }),
      outputSchema: z.object({ found: z.boolean() }),
      execute: async () => {
        runs.lookup++
        return { found: 'maybe' } as unknown as { found: boolean }
      },
    })
    const hooks = killSwitchToolHooks({
      killSwitch: ks,
      credential,
      toolPrices: { search: 0.01, lookup: 0.02 },
    })
    const run = (tool: 'search' | 'lookup') =>
      quiet(
        new Agent({
          id: tool,
          name: tool,
          instructions: 'Call the tool.',
          model: asMastraModel(loopingModel({ tool, args: () => ({ query: 42 }), answerAt: 1 })),
          tools: { search, lookup },
          hooks,
        }),
      ).generate('go', { maxSteps: 2 })

    await run('search')
    expect(runs.search).toBe(0)
    expect(await ks.agents.get(handle)).toMatchObject({ spent: 0, held: 0 })
    expect((await ks.audit(handle)).at(-1)).toMatchObject({
      type: 'released',
      data: { reason: expect.stringContaining('tool never started: Tool input validation failed') },
    })

    await run('lookup')
    expect(runs.lookup).toBe(1)
    expect(await ks.agents.get(handle)).toMatchObject({ spent: 0.02, held: 0 })
  })
})
