// How a step's model call ends through the processor, against the real @mastra/core agent
// and the real core, the ledger checked to the micro-dollar: a provider's outright refusal
// (4xx) is released, a 5xx is charged, each retry Mastra makes is a call of its own, and paid
// tools are priced where the kill switch is configured.
import { APICallError } from '@ai-sdk/provider'
import { InvalidConfigError } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import * as mock from '../test/mock-agent.js'
import { killSwitchProcessor } from './kill-switch-processor.js'
import { killSwitchToolHooks } from './kill-switch-tool-hooks.js'
import { killSwitchTripwire } from './tripwire.js'

const micros = (usd: number) => Math.round(usd * 1_000_000)
const modes = ['generate', 'stream'] as const

/** The provider's HTTP error, as the AI SDK's provider clients throw it. */
const httpError = (statusCode: number) =>
  new APICallError({
    message: `provider answered ${statusCode}`,
    url: 'http://127.0.0.1/v1/chat',
    requestBodyValues: {},
    statusCode,
  })

/** Throws `failures` in order, one per call, then answers as the looping model does. */
function failingFirst(failures: unknown[]) {
  const answer = mock.loopingModel({ answerAt: 0 })
  let calls = 0
  const next = () => failures[calls++]
  return new MockLanguageModelV4({
    provider: 'mock',
    modelId: 'mock-looper',
    doGenerate: async (options) => {
      const failure = next()
      if (failure !== undefined) throw failure
      return answer.doGenerate(options)
    },
    doStream: async (options) => {
      const failure = next()
      if (failure !== undefined) throw failure
      return answer.doStream(options)
    },
  })
}

async function ended(agent: Agent, mode: (typeof modes)[number], maxRetries = 0) {
  const options = { maxSteps: 5, modelSettings: { maxRetries } }
  if (mode === 'generate')
    return agent.generate('go', options).then(
      () => undefined,
      (e) => e,
    )
  const stream = await agent.stream('go', options)
  await stream.consumeStream()
  return stream.error
}

/** Runs the agent to its end, generate or stream, and returns its tripwire. */
async function tripwireOf(agent: Agent, mode: (typeof modes)[number], abortSignal?: AbortSignal) {
  const options = { maxSteps: 5, ...(abortSignal ? { abortSignal } : {}) }
  if (mode === 'generate') return (await agent.generate('go', options)).tripwire
  const stream = await agent.stream('go', options)
  await stream.consumeStream()
  return stream.tripwire
}

describe('killSwitchProcessor: how a model call ends', () => {
  for (const mode of modes) {
    it(`releases a call the provider refused outright (400), and charges a 500 (${mode})`, async () => {
      for (const [status, charged] of [
        [400, 0],
        [500, 1],
      ] as const) {
        const model = failingFirst([httpError(status)])
        const { ks, handle, agent } = await mock.processorAgent(1, model)

        const error = await ended(agent, mode)

        expect((error as APICallError).statusCode).toBe(status)
        expect(mock.modelCalls(model)).toBe(1)
        const agentNow = await ks.agents.get(handle)
        expect(agentNow.held).toBe(0)
        // A 5xx may have been billed: charged at the whole hold, never released.
        if (charged) expect(agentNow.spent).toBeGreaterThan(0)
        else expect(agentNow.spent).toBe(0)
      }
    })

    it(`makes each retry of Mastra's a call of its own: a 429 released, the answer settled (${mode})`, async () => {
      const model = failingFirst([httpError(429)])
      const { ks, handle, agent } = await mock.processorAgent(1, model)

      const error = await ended(agent, mode, 1)

      expect(error).toBeUndefined()
      expect(mock.modelCalls(model)).toBe(2)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      expect(micros(agentNow.spent)).toBe(micros(mock.STEP_COST_USD))
      const entries = (await ks.audit(handle)).map((entry) => entry.type)
      expect(entries.filter((type) => type === 'released')).toHaveLength(1)
    })
  }
})

describe('killSwitchProcessor: a step another processor aborts', () => {
  for (const mode of modes) {
    it(`holds nothing for a step whose model is never called (${mode})`, async () => {
      const setup = await mock.killSwitchWithAgent(1)
      const model = mock.loopingModel()
      const processor = killSwitchProcessor({ killSwitch: setup.ks, credential: setup.credential })
      // Registered after the kill switch: it ends the run before the second model call.
      const gate = {
        id: 'gate',
        processInputStep: ({
          stepNumber,
          abort,
        }: {
          stepNumber: number
          abort: (r: string) => never
        }) => (stepNumber === 1 ? abort('not now') : undefined),
      }
      const agent = mock.quiet(
        new Agent({
          id: 'gated',
          name: 'gated',
          instructions: 'Search.',
          model: mock.asMastraModel(model),
          tools: { search: mock.searchTool().tool },
          inputProcessors: [processor, gate],
          outputProcessors: [processor],
        }),
      )

      const tripwire = await tripwireOf(agent, mode)

      expect(tripwire?.processorId).toBe('gate')
      expect(mock.modelCalls(model)).toBe(1)
      const agentNow = await setup.ks.agents.get(setup.handle)
      expect(agentNow.held).toBe(0)
      expect(micros(agentNow.spent)).toBe(micros(mock.STEP_COST_USD))
    })
  }
})

describe('paid tools priced on the kill switch (createKillSwitch({ toolPrices }))', () => {
  it('the processor holds and settles each tool run at the kill switch price', async () => {
    const setup = await mock.killSwitchWithAgent(1, 'priced', mock.CAP_ONLY, { search: 0.05 })
    const { tool, counter } = mock.searchTool()
    const processor = killSwitchProcessor({ killSwitch: setup.ks, credential: setup.credential })
    const agent = mock.quiet(
      new Agent({
        id: 'priced',
        name: 'priced',
        instructions: 'Search.',
        model: mock.asMastraModel(mock.loopingModel({ answerAt: 3 })),
        tools: { search: tool },
        inputProcessors: [processor],
        outputProcessors: [processor],
      }),
    )

    const result = await agent.generate('go', { maxSteps: 10 })

    expect(result.tripwire).toBeUndefined()
    expect(counter.runs).toBe(3)
    const agentNow = await setup.ks.agents.get('priced')
    expect(micros(agentNow.spent)).toBe(4 * micros(mock.STEP_COST_USD) + 3 * micros(0.05))
    expect(agentNow.held).toBe(0)
  })

  it('the tool hooks hold and settle each tool run at the kill switch price', async () => {
    const setup = await mock.killSwitchWithAgent(1, 'hooked', mock.CAP_ONLY, { search: 0.05 })
    const { tool, counter } = mock.searchTool()
    const agent = mock.quiet(
      new Agent({
        id: 'hooked',
        name: 'hooked',
        instructions: 'Search.',
        model: mock.asMastraModel(mock.loopingModel()),
        tools: { search: tool },
        hooks: killSwitchToolHooks({ killSwitch: setup.ks, credential: setup.credential }),
      }),
    )

    await agent.generate('go', { maxSteps: 3 })

    // Only the tools are metered here (the model is not wrapped).
    expect(counter.runs).toBe(3)
    expect(micros((await setup.ks.agents.get('hooked')).spent)).toBe(3 * micros(0.05))
  })

  it('refuses tool prices beside a ready guard, naming the field, for both', async () => {
    const setup = await mock.killSwitchWithAgent(1)
    const guard = setup.ks.guard(setup.credential)
    for (const build of [killSwitchProcessor, killSwitchToolHooks]) {
      expect(() => build({ guard, toolPrices: { search: 0.01 } })).toThrowError(
        expect.objectContaining({ name: InvalidConfigError.name, field: 'toolPrices' }),
      )
    }
  })

  it('ends the run with a tripwire when the request context names a field that is not a scope field', async () => {
    const { agent, model } = await mock.processorAgent(1)
    const { RequestContext } = await import('@mastra/core/request-context')
    const requestContext = new RequestContext()
    requestContext.set('killswitch', { budget: ['customer-acme'] })

    const result = await agent.generate('go', { requestContext })

    expect(killSwitchTripwire(result.tripwire)?.code).toBe('invalid_config')
    expect(mock.modelCalls(model)).toBe(0)
  })
})

describe('killSwitchProcessor: where a model call starts and ends', () => {
  for (const mode of modes) {
    it(`refuses a revoked agent's call before the provider is called, with a tripwire (${mode})`, async () => {
      const model = mock.loopingModel()
      const { ks, handle, agent } = await mock.processorAgent(1, model)
      await ks.agents.revoke(handle)

      const tripwire = await tripwireOf(agent, mode)

      expect(killSwitchTripwire(tripwire)).toMatchObject({ code: 'agent_revoked', handle })
      expect(mock.modelCalls(model)).toBe(0)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      expect(agentNow.spent).toBe(0)
    })

    it(`ends the call the caller aborts mid-call, aborting the provider's request (${mode})`, async () => {
      const controller = new AbortController()
      const signals: Array<AbortSignal | undefined> = []
      const looping = mock.loopingModel({
        midCall: (step) => {
          if (step === 1) controller.abort(new Error('user cancelled'))
        },
      })
      const model = new MockLanguageModelV4({
        provider: 'mock',
        modelId: mock.MODEL_ID,
        doGenerate: (options) => {
          signals.push(options.abortSignal)
          return looping.doGenerate(options)
        },
        doStream: (options) => {
          signals.push(options.abortSignal)
          return looping.doStream(options)
        },
      })
      const { ks, handle, agent, counter } = await mock.processorAgent(1, model)

      await tripwireOf(agent, mode, controller.signal).catch(() => undefined)

      expect(mock.modelCalls(model)).toBe(2)
      expect(signals.at(-1)?.aborted).toBe(true)
      expect(counter.runs).toBe(1)
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      // The aborted call had left: charged, never released.
      expect(micros(agentNow.spent)).toBeGreaterThan(micros(mock.STEP_COST_USD))
    })
  }
})

describe('killSwitchProcessor: a step model it cannot reach', () => {
  it('refuses the step with a tripwire (fail closed) rather than letting the calls through', async () => {
    const setup = await mock.killSwitchWithAgent(1)
    const processor = killSwitchProcessor({ killSwitch: setup.ks, credential: setup.credential })
    const tripwires: unknown[] = []
    const abort = (reason?: string, options?: { metadata?: unknown }) => {
      tripwires.push({ reason, metadata: options?.metadata })
      throw new Error('tripwire')
    }
    const args = { model: { modelId: 'unresolved' }, tools: {}, state: {}, abort, runId: 'r1' }

    await expect(
      processor.processInputStep(
        args as unknown as Parameters<typeof processor.processInputStep>[0],
      ),
    ).rejects.toThrow('tripwire')

    expect(tripwires).toEqual([
      {
        reason: expect.stringContaining('not a model object'),
        metadata: expect.objectContaining({ code: 'invalid_config' }),
      },
    ])
    expect((await setup.ks.agents.get(setup.handle)).held).toBe(0)
  })
})
