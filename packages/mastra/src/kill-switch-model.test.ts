import {
  AgentRevokedError,
  type RunawayConfig,
  RunawayDetectedError,
  SpendingCapExceededError,
} from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CAP_ONLY,
  killSwitchWithAgent,
  type LoopingModelOptions,
  loopingModel,
  modelCalls,
  ONE_PIECE_MICROS,
  quiet,
  STEP_COST_USD,
  searchTool,
} from '../test/mock-agent.js'
import { killSwitchModel } from './kill-switch-model.js'

const micros = (usd: number) => Math.round(usd * 1_000_000)

async function wrappedAgent(
  spendingCap: number,
  modelOptions: LoopingModelOptions = {},
  runaway?: RunawayConfig,
) {
  const setup = await killSwitchWithAgent(spendingCap, undefined, runaway)
  const model = loopingModel(modelOptions)
  const { tool, counter } = searchTool()
  const agent = quiet(
    new Agent({
      id: 'looper',
      name: 'looper',
      instructions: 'Search until you are told to stop.',
      model: killSwitchModel(model, { killSwitch: setup.ks, credential: setup.credential }),
      tools: { search: tool },
    }),
  )
  return { ...setup, model, counter, agent }
}

/** Runs the agent to its end; returns the error it ended with (generate throws, stream reports). */
async function run(agent: Agent, mode: 'generate' | 'stream'): Promise<unknown> {
  if (mode === 'generate') {
    try {
      await agent.generate('go', { maxSteps: 100 })
      return undefined
    } catch (error) {
      return error
    }
  }
  const stream = await agent.stream('go', { maxSteps: 100 })
  await stream.consumeStream()
  return stream.error
}

describe('killSwitchModel', () => {
  for (const mode of ['generate', 'stream'] as const) {
    it(`stops a looping agent at its cap with the typed error (${mode})`, async () => {
      const cap = 0.2
      const { ks, handle, model, counter, agent } = await wrappedAgent(cap, {}, CAP_ONLY)

      const error = await run(agent, mode)

      expect(error).toBeInstanceOf(SpendingCapExceededError)
      expect((error as SpendingCapExceededError).handle).toBe(handle)
      expect(counter.runs).toBeGreaterThan(1)
      expect(counter.runs).toBeLessThanOrEqual(modelCalls(model))
      const agentNow = await ks.agents.get(handle)
      expect(micros(agentNow.spent)).toBeLessThanOrEqual(micros(cap) + ONE_PIECE_MICROS)
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(micros(STEP_COST_USD) * counter.runs)
      expect(agentNow.held).toBe(0)
    })

    it(`stops the run when the agent is revoked mid-call, with no model call after (${mode})`, async () => {
      let revoke: () => Promise<unknown> = async () => {}
      const { ks, handle, model, counter, agent } = await wrappedAgent(1, {
        // Revoked from outside while the second model call is in flight.
        midCall: async (step) => {
          if (step === 1) await revoke()
        },
      })
      revoke = () => ks.agents.revoke(handle, { reason: 'test: runaway spend' })

      const error = await run(agent, mode)

      expect(error).toBeInstanceOf(AgentRevokedError)
      expect(modelCalls(model)).toBe(2)
      expect(counter.runs).toBe(1)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      // The call revoked in flight had left: charged like every ending, never released.
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(2 * micros(STEP_COST_USD))
    })

    it(`refuses the 5th identical tool call before it runs (${mode})`, async () => {
      const { ks, handle, counter, agent } = await wrappedAgent(1, {
        args: () => ({ query: 'the same query' }),
      })

      const error = await run(agent, mode)

      expect(error).toBeInstanceOf(RunawayDetectedError)
      expect((error as RunawayDetectedError).detector).toBe('repeated-tool-call')
      expect(counter.runs).toBe(4)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.status).toBe('revoked')
      expect(agentNow.held).toBe(0)
    })

    it(`releases the hold when the caller aborts the run mid-call (${mode})`, async () => {
      const controller = new AbortController()
      const { ks, handle, model, counter, agent } = await wrappedAgent(1, {
        midCall: (step) => {
          if (step === 1) controller.abort(new Error('user cancelled'))
        },
      })

      if (mode === 'generate') {
        await agent
          .generate('go', { maxSteps: 100, abortSignal: controller.signal })
          .catch(() => undefined)
      } else {
        const stream = await agent.stream('go', { maxSteps: 100, abortSignal: controller.signal })
        await stream.consumeStream().catch(() => undefined)
      }

      expect(modelCalls(model)).toBe(2)
      expect(counter.runs).toBe(1)
      expect((await ks.agents.get(handle)).held).toBe(0)
    })

    it(`charges the failed call that left, leaving no hold (${mode})`, async () => {
      const { ks, handle, agent } = await wrappedAgent(1, {
        midCall: (step) => {
          if (step === 1) throw new Error('provider 500')
        },
      })

      const error = await run(agent, mode)

      expect((error as Error | undefined)?.message).toBe('provider 500')
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(micros(STEP_COST_USD))
    })
  }

  it('never spends past the cap by more than the piece that crossed it, and never leaves a hold, whatever the cap (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3_000, max: 60_000 }),
        fc.constantFrom('generate' as const, 'stream' as const),
        async (capMicros, mode) => {
          const { ks, handle, agent } = await wrappedAgent(capMicros / 1_000_000, {}, CAP_ONLY)
          const error = await run(agent, mode)
          const agentNow = await ks.agents.get(handle)
          expect(error).toBeInstanceOf(SpendingCapExceededError)
          expect(micros(agentNow.spent)).toBeLessThanOrEqual(capMicros + ONE_PIECE_MICROS)
          expect(agentNow.held).toBe(0)
        },
      ),
      { numRuns: 12 },
    )
  })
})
