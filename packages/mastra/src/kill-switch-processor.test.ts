import { type AgentGuard, AgentRevokedError, type ModelCall } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as mock from '../test/mock-agent.js'
import {
  asMastraModel,
  CAP_ONLY,
  killSwitchWithAgent,
  loopingModel,
  modelCalls,
  ONE_PIECE_MICROS,
  processorAgent,
  quiet,
  STEP_COST_USD,
  searchTool,
} from '../test/mock-agent.js'
import { killSwitchProcessor } from './kill-switch-processor.js'
import { killSwitchTripwire } from './tripwire.js'

const micros = (usd: number) => Math.round(usd * 1_000_000)
const modes = ['generate', 'stream'] as const
type Mode = (typeof modes)[number]

const guardedAgent = processorAgent
type Tripwire = { processorId?: string; metadata?: unknown }

/** Runs the agent to its end and returns its tripwire (generate and stream alike). */
async function run(agent: Agent, mode: Mode, options: { abortSignal?: AbortSignal } = {}) {
  if (mode === 'generate')
    return (await agent.generate('go', { maxSteps: 100, ...options })).tripwire
  const stream = await agent.stream('go', { maxSteps: 100, ...options })
  await stream.consumeStream()
  return stream.tripwire
}

describe('killSwitchProcessor', () => {
  for (const mode of modes) {
    it(`stops a looping agent at its cap with a tripwire carrying the code (${mode})`, async () => {
      const cap = 0.2
      const { ks, handle, model, counter, agent } = await guardedAgent(cap, {}, undefined, CAP_ONLY)

      const tripwire = await run(agent, mode)

      expect(killSwitchTripwire(tripwire)).toEqual({
        code: 'spending_cap_exceeded',
        status: 402,
        name: 'SpendingCapExceededError',
        handle,
      })
      // It looped for a while, each step's tool running once, until the budget ran out
      // (before a model call, or mid-stream when the clamped call streamed past its hold).
      expect(counter.runs).toBeGreaterThan(1)
      expect(counter.runs).toBeLessThanOrEqual(modelCalls(model))
      const agentNow = await ks.agents.get(handle)
      expect(micros(agentNow.spent)).toBeLessThanOrEqual(micros(cap) + ONE_PIECE_MICROS)
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(micros(STEP_COST_USD) * counter.runs)
      expect(agentNow.held).toBe(0)
    })

    it(`refuses the 5th identical tool call before it runs (${mode})`, async () => {
      const { ks, handle, counter, agent } = await guardedAgent(1, {
        args: () => ({ query: 'the same query' }),
      })

      const tripwire = await run(agent, mode)

      expect(killSwitchTripwire(tripwire)?.code).toBe('runaway_detected')
      expect(tripwire?.reason).toContain('repeated-tool-call')
      expect(counter.runs).toBe(4)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.status).toBe('revoked')
      expect(agentNow.held).toBe(0)
    })

    it(`stops the run when the agent is revoked mid-call; no model call after (${mode})`, async () => {
      let revoke: () => Promise<unknown> = async () => {}
      const { ks, handle, model, counter, agent } = await guardedAgent(1, {
        midCall: async (step) => {
          if (step === 1) await revoke()
        },
      })
      revoke = () => ks.agents.revoke(handle, { reason: 'test: revoked from outside' })

      // generate: revoked while doGenerate is pending (the mock ignores its abort), the call
      // ends at once and Mastra reports the typed error; stream: revoked between two
      // chunks, the next chunk is refused with a tripwire.
      const ended =
        mode === 'generate'
          ? await agent.generate('go', { maxSteps: 100 }).catch((error: unknown) => error)
          : await run(agent, mode)

      if (mode === 'generate') expect(ended).toBeInstanceOf(AgentRevokedError)
      else
        expect(killSwitchTripwire(ended as Tripwire)).toMatchObject({
          code: 'agent_revoked',
          status: 401,
        })
      expect(modelCalls(model)).toBe(2)
      expect(counter.runs).toBe(1) // the second step's tool call never ran
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      // The call revoked in flight had left: charged like every ending, never released.
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(2 * micros(STEP_COST_USD))
    })

    it(`cancels the run through guard.signal on revocation and charges the call in flight (${mode})`, async () => {
      let revoke: () => Promise<unknown> = async () => {}
      const { ks, handle, model, counter, agent, processor } = await guardedAgent(1, {
        midCall: async (step) => {
          if (step === 1) await revoke()
        },
      })
      revoke = () => ks.agents.revoke(handle, { reason: 'test: revoked from outside' })

      await run(agent, mode, { abortSignal: processor.guard.signal })

      expect(processor.guard.signal.aborted).toBe(true)
      expect(modelCalls(model)).toBe(2)
      expect(counter.runs).toBe(1)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(2 * micros(STEP_COST_USD))
    })

    it(`releases the hold when the model call fails (${mode})`, async () => {
      const { ks, handle, agent } = await guardedAgent(1, {
        midCall: (step) => {
          if (step === 1) throw new Error('provider 500')
        },
      })

      // generate rejects with the provider's error; stream reports it on `error`.
      const failure =
        mode === 'generate'
          ? await agent.generate('go', { maxSteps: 100 }).then(
              () => undefined,
              (error) => error,
            )
          : await agent.stream('go', { maxSteps: 100 }).then(async (stream) => {
              await stream.consumeStream()
              return stream.error
            })

      expect((failure as Error | undefined)?.message).toBe('provider 500')
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(micros(STEP_COST_USD))
    })

    it(`holds and settles a paid tool's price on each run (${mode})`, async () => {
      // The cap is large enough that a step's model hold (clamped to its default max
      // output) leaves room for the tool's price: the tool call arrives while it is held.
      const toolPrice = 0.1
      const cap = 2
      const { ks, handle, counter, agent } = await guardedAgent(
        cap,
        {},
        { search: toolPrice },
        CAP_ONLY,
      )

      const tripwire = await run(agent, mode)

      expect(killSwitchTripwire(tripwire)?.code).toBe('spending_cap_exceeded')
      const agentNow = await ks.agents.get(handle)
      expect(counter.runs).toBeGreaterThan(1)
      // Every tool run was paid for, on top of its model call, and the cap held.
      expect(micros(agentNow.spent)).toBeGreaterThanOrEqual(
        (micros(STEP_COST_USD) + micros(toolPrice)) * counter.runs,
      )
      expect(agentNow.spent).toBeLessThanOrEqual(cap)
      expect(agentNow.held).toBe(0)
    })

    it(`refuses a paid tool the budget cannot pay before it runs, and ends the run (${mode})`, async () => {
      // The model call fits the $0.15 cap; what it cost plus the $0.15 tool does not.
      const { ks, handle, model, counter, agent } = await guardedAgent(0.15, {}, { search: 0.15 })

      const tripwire = await run(agent, mode)

      expect(killSwitchTripwire(tripwire)?.code).toBe('spending_cap_exceeded')
      expect(modelCalls(model)).toBe(1)
      expect(counter.runs).toBe(0)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.spent).toBeGreaterThan(0) // the model call that was made is paid
      expect(agentNow.spent).toBeLessThan(0.15) // the tool is not
      expect(agentNow.held).toBe(0)
    })
  }

  for (const mode of modes) {
    it(`keeps a step's tools from running when settling the step refuses the run (${mode})`, async () => {
      const { ks, credential, handle } = await killSwitchWithAgent(1)
      const real = ks.guard(credential)
      let settled = 0
      // A detector that trips on settlement (spend velocity, say): revoke, then refuse.
      const startModelCall: AgentGuard['startModelCall'] = async (request) => {
        const call = await real.startModelCall(request)
        const finish: ModelCall['finish'] = async (result) => {
          const settlement = await call.finish(result)
          if (++settled === 2) {
            await ks.agents.revoke(handle, { reason: 'test: spend velocity' })
            throw new AgentRevokedError({ handle, reason: 'test: spend velocity' })
          }
          return settlement
        }
        return mock.overriding(call, { finish })
      }
      // The real guard, but for settlement.
      const guard = mock.overriding(real, { startModelCall })
      const model = loopingModel()
      const { tool, counter } = searchTool()
      const processor = killSwitchProcessor({ guard })
      const agent = quiet(
        new Agent({
          id: 'looper',
          name: 'looper',
          instructions: 'Search until you are told to stop.',
          model: asMastraModel(model),
          tools: { search: tool },
          inputProcessors: [processor],
          outputProcessors: [processor],
        }),
      )

      const tripwire = await run(agent, mode)

      expect(killSwitchTripwire(tripwire)?.code).toBe('agent_revoked')
      expect(modelCalls(model)).toBe(2)
      expect(counter.runs).toBe(1) // the second step's tool was checked, then refused at settlement
      expect((await ks.agents.get(handle)).held).toBe(0)
    })
  }

  it('clamps the max output tokens sent to the model to what the budget pays for', async () => {
    const { model, agent } = await guardedAgent(0.2, {}, undefined, CAP_ONLY)

    await run(agent, 'stream')

    const sent = model.doStreamCalls.map((call) => call.maxOutputTokens ?? Number.POSITIVE_INFINITY)
    expect(sent.length).toBeGreaterThan(1)
    // The budget shrinks each step, and so does what each call may produce.
    for (let i = 1; i < sent.length; i++) expect(sent[i]).toBeLessThan(sent[i - 1] as number)
    expect(sent[0]).toBeLessThan(4096)
  })

  it('never spends past the cap but for the piece that crossed a hold, and never leaves a hold, whatever the cap (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3_000, max: 60_000 }),
        fc.constantFrom(...modes),
        async (capMicros, mode) => {
          const cap = capMicros / 1_000_000
          const { ks, handle, agent } = await guardedAgent(cap, {}, undefined, CAP_ONLY)
          const tripwire = await run(agent, mode)
          const agentNow = await ks.agents.get(handle)
          expect(killSwitchTripwire(tripwire)?.code).toBe('spending_cap_exceeded')
          expect(micros(agentNow.spent)).toBeLessThanOrEqual(capMicros + ONE_PIECE_MICROS)
          expect(agentNow.held).toBe(0)
        },
      ),
      { numRuns: 12 },
    )
  })

  it('releases a paid tool whose input Mastra refused before it ran (it never started)', async () => {
    const { ks, handle, counter, agent } = await guardedAgent(
      2,
      { args: () => ({ query: 42 }), answerAt: 1 },
      { search: 0.1 },
    )

    await run(agent, 'generate')

    expect(counter.runs).toBe(0)
    const audit = await ks.audit(handle)
    const toolEntries = audit.filter((entry) => entry.data.tool === 'search')
    expect(toolEntries.map((entry) => entry.type)).toEqual(['hold', 'released'])
    expect(toolEntries[1]?.data.reason).toContain(
      'tool never started: Tool input validation failed',
    )
    expect((await ks.agents.get(handle)).held).toBe(0)
  })
})
