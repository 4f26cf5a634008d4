// Mastra's own logger with the filter: one line per refusal, other errors logged as before.
import { Agent } from '@mastra/core/agent'
import { ConsoleLogger } from '@mastra/core/logger'
import { Mastra } from '@mastra/core/mastra'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { killSwitchWithAgent, loopingModel, searchTool } from '../test/mock-agent.js'
import { killSwitchLogFilter } from './kill-switch-log-filter.js'
import { killSwitchModel } from './kill-switch-model.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Everything Mastra printed, one string per console call. */
function captureConsole(): string[] {
  const printed: string[] = []
  for (const level of ['error', 'warn', 'info', 'log'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      printed.push(
        args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '),
      )
    })
  }
  return printed
}

async function loggedAgent(midCall?: (step: number) => void) {
  const setup = await killSwitchWithAgent(1)
  const { tool } = searchTool()
  const agent = new Agent({
    id: 'looper',
    name: 'looper',
    instructions: 'Search until you are told to stop.',
    model: killSwitchModel(loopingModel(midCall ? { midCall } : {}), {
      killSwitch: setup.ks,
      credential: setup.credential,
    }),
    tools: { search: tool },
  })
  const lines: string[] = []
  const filter = killSwitchLogFilter({ report: (line) => lines.push(line) })
  new Mastra({ agents: { agent }, logger: new ConsoleLogger({ filter }) })
  return { ...setup, agent, lines }
}

describe('killSwitchLogFilter', () => {
  it('logs each refusal as one line, generate and stream alike, and nothing else of it', async () => {
    const { ks, handle, agent, lines } = await loggedAgent()
    await ks.agents.revoke(handle, { reason: 'operator pressed the button' })
    const printed = captureConsole()

    await expect(agent.generate('go')).rejects.toThrow('revoked')
    const stream = await agent.stream('go')
    await stream.consumeStream()
    expect((stream.error as Error | undefined)?.name).toBe('AgentRevokedError')

    expect(lines).toHaveLength(2)
    for (const line of lines) {
      expect(line).not.toContain('\n')
      expect(line).toContain('AgentRevokedError agent_revoked (agent mastra-agent)')
    }
    expect(printed.filter((entry) => entry.includes('AgentRevokedError'))).toEqual([])
  })

  it('leaves errors that are not refusals to the logger', async () => {
    const { agent, lines } = await loggedAgent((step) => {
      if (step === 0) throw new Error('provider 500')
    })
    const printed = captureConsole()

    await expect(agent.generate('go')).rejects.toThrow('provider 500')

    expect(lines).toEqual([])
    expect(printed.some((entry) => entry.includes('Error in agent stream'))).toBe(true)
  })
})
