// Budget scopes through Mastra: an end customer's budget chosen per request (the model
// wrapper: `providerOptions.killswitch`; the processor: the request context's `killswitch`),
// and a run's own budget, on a real @mastra/core Agent against the real core.
import { SpendingCapExceededError } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import { RequestContext } from '@mastra/core/request-context'
import { describe, expect, it } from 'vitest'
import {
  asMastraModel,
  CAP_ONLY,
  killSwitchWithAgent,
  loopingModel,
  modelCalls,
  quiet,
  searchTool,
} from '../test/mock-agent.js'
import { killSwitchModel } from './kill-switch-model.js'
import { type KillSwitchProcessorOptions, killSwitchProcessor } from './kill-switch-processor.js'
import { killSwitchToolHooks } from './kill-switch-tool-hooks.js'
import { killSwitchTripwire } from './tripwire.js'

/** Calls until one is refused (at most `max`); returns the refusal and the calls made. */
async function untilRefused(call: () => Promise<unknown>, max = 60) {
  for (let made = 0; made < max; made++) {
    const refusal = await call().then(
      (outcome) => outcome,
      (error: unknown) => ({ error }),
    )
    if (refusal !== undefined) return { refusal, made }
  }
  throw new Error(`no refusal in ${max} calls`)
}

async function withCustomers() {
  const setup = await killSwitchWithAgent(100, 'saas-agent', CAP_ONLY)
  for (const id of ['customer-acme', 'customer-beta']) {
    await setup.ks.budgets.create({ id, limits: [{ amount: 0.05, per: 'month' }] })
  }
  return setup
}

function agentOf(model: ReturnType<typeof killSwitchModel>, extra: Partial<Agent> = {}) {
  const { tool } = searchTool()
  return quiet(
    new Agent({
      id: 'saas',
      name: 'saas',
      instructions: 'Answer.',
      model,
      tools: { search: tool },
      ...extra,
    }),
  )
}

describe('budget scope: killSwitchModel (providerOptions.killswitch)', () => {
  it("refuses a customer's request past its budget, naming it, while another customer's goes through", async () => {
    const setup = await withCustomers()
    // Answers at once: one model call per request.
    const model = loopingModel({ answerAt: 0 })
    const agent = agentOf(
      killSwitchModel(model, { killSwitch: setup.ks, credential: setup.credential }),
    )
    const forCustomer = (id: string) =>
      agent.generate('go', {
        providerOptions: { killswitch: { budgets: [id] }, mock: { user: id } },
      })

    const { refusal, made } = await untilRefused(async () => {
      await forCustomer('customer-acme')
      return undefined
    })
    expect(made).toBeGreaterThan(0)
    const { error } = refusal as { error: unknown }
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error).toMatchObject({ level: 'budget', budgetId: 'customer-acme', per: 'month' })
    expect(modelCalls(model)).toBe(made)
    const acme = await setup.ks.budgets.get('customer-acme')
    expect(acme.limits[0]?.spent).toBeLessThanOrEqual(0.05)
    expect(acme.limits[0]?.held).toBe(0)

    await expect(forCustomer('customer-beta')).resolves.toBeDefined()
    expect((await setup.ks.budgets.get('customer-beta')).limits[0]?.spent).toBeGreaterThan(0)
    // Mastra passed the call's provider options through; the provider did not get ours.
    const sent =
      model.doStreamCalls.at(-1)?.providerOptions ?? model.doGenerateCalls.at(-1)?.providerOptions
    expect(sent).toMatchObject({ mock: { user: 'customer-beta' } })
    expect(sent?.killswitch).toBeUndefined()
  })

  it("stops a looping agent at its run's budget", async () => {
    const setup = await killSwitchWithAgent(100, 'runner', CAP_ONLY)
    const model = loopingModel()
    const agent = agentOf(
      killSwitchModel(model, {
        killSwitch: setup.ks,
        credential: setup.credential,
        runId: 'run-1',
        runCap: 0.05,
      }),
    )
    const error = await agent.generate('go', { maxSteps: 100 }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error).toMatchObject({
      level: 'budget',
      budgetId: expect.stringMatching(/^run:[^:]+:run-1$/),
    })
    expect(modelCalls(model)).toBeGreaterThan(1)
    expect((await setup.ks.agents.get('runner')).spent).toBeLessThanOrEqual(0.05)
  })
})

describe('budget scope: killSwitchProcessor (requestContext killswitch)', () => {
  function processorAgentOf(
    setup: Awaited<ReturnType<typeof killSwitchWithAgent>>,
    model: ReturnType<typeof loopingModel>,
    scope: Partial<KillSwitchProcessorOptions> = {},
  ) {
    const processor = killSwitchProcessor({
      killSwitch: setup.ks,
      credential: setup.credential,
      ...scope,
    } as KillSwitchProcessorOptions)
    return agentOf(asMastraModel(model), {
      inputProcessors: [processor],
      outputProcessors: [processor],
    } as Partial<Agent>)
  }

  const contextOf = (scope: Record<string, unknown>) => {
    const requestContext = new RequestContext()
    requestContext.set('killswitch', scope)
    return requestContext
  }

  it("refuses a customer's request past its budget, naming it in the tripwire, while another customer's goes through", async () => {
    const setup = await withCustomers()
    const model = loopingModel({ answerAt: 0 })
    const agent = processorAgentOf(setup, model)
    const forCustomer = (id: string) =>
      agent.generate('go', { requestContext: contextOf({ budgets: [id] }) })

    // A call whose hold the budget clamped may be stopped mid-stream first (its output
    // reached the hold); the next one is refused before the model, naming the budget.
    const { refusal, made } = await untilRefused(async () => {
      const tripwire = killSwitchTripwire((await forCustomer('customer-acme')).tripwire)
      return tripwire?.budgetId === undefined ? undefined : { tripwire }
    })
    expect(made).toBeGreaterThan(0)
    expect(refusal).toMatchObject({
      tripwire: { code: 'spending_cap_exceeded', budgetId: 'customer-acme', per: 'month' },
    })
    expect(modelCalls(model)).toBe(made)
    expect((await setup.ks.budgets.get('customer-acme')).limits[0]?.spent).toBeLessThanOrEqual(0.05)

    const beta = await forCustomer('customer-beta')
    expect(beta.tripwire).toBeUndefined()
    expect((await setup.ks.budgets.get('customer-beta')).limits[0]?.spent).toBeGreaterThan(0)
  })

  // Red team r21: the processor ignored a call's providerOptions.killswitch (the model
  // wrapper's channel), and three calls went through past a customer's budget.
  it("charges a call's providerOptions.killswitch budgets too, and does not send our key on", async () => {
    const setup = await withCustomers()
    const model = loopingModel({ answerAt: 0 })
    const agent = processorAgentOf(setup, model)
    await agent.generate('go', {
      providerOptions: { killswitch: { budgets: ['customer-acme'] }, mock: { user: 'acme' } },
    })
    expect((await setup.ks.budgets.get('customer-acme')).limits[0]?.spent).toBeGreaterThan(0)
    const sent =
      model.doStreamCalls.at(-1)?.providerOptions ?? model.doGenerateCalls.at(-1)?.providerOptions
    expect(sent).toMatchObject({ mock: { user: 'acme' } })
    expect(sent?.killswitch).toBeUndefined()
  })

  it("stops a looping agent at the run's budget, from the options or the request context", async () => {
    for (const [scope, context] of [
      [{ runId: 'run-1', runCap: 0.05 }, undefined],
      [{}, { runId: 'run-1', runCap: 0.05 }],
    ] as const) {
      const setup = await killSwitchWithAgent(100, 'runner', CAP_ONLY)
      const model = loopingModel()
      const agent = processorAgentOf(setup, model, scope)
      const result = await agent.generate('go', {
        maxSteps: 100,
        ...(context ? { requestContext: contextOf(context) } : {}),
      })
      expect(killSwitchTripwire(result.tripwire)).toMatchObject({
        code: 'spending_cap_exceeded',
        budgetId: expect.stringMatching(/^run:[^:]+:run-1$/),
      })
      expect(modelCalls(model)).toBeGreaterThan(1)
      expect((await setup.ks.agents.get('runner')).spent).toBeLessThanOrEqual(0.05)
    }
  })
})

describe('budget scope: killSwitchToolHooks (options)', () => {
  it("holds paid tools on the customer's budget of its options; past it the tool is skipped, naming the budget", async () => {
    const setup = await killSwitchWithAgent(100, 'tools-agent', CAP_ONLY)
    await setup.ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 0.05, per: 'day' }] })
    const { tool, counter } = searchTool()
    const agent = quiet(
      new Agent({
        id: 'tools',
        name: 'tools',
        instructions: 'Search.',
        model: asMastraModel(loopingModel()),
        tools: { search: tool },
        hooks: killSwitchToolHooks({
          killSwitch: setup.ks,
          credential: setup.credential,
          toolPrices: { search: 0.02 },
          budgets: ['customer-acme'],
        }),
      }),
    )
    const result = await agent.generate('go', { maxSteps: 4 })
    // $0.02 a call on a $0.05 budget: two calls ran, the others were skipped.
    expect(counter.runs).toBe(2)
    const outputs = result.steps.flatMap((step) => step.toolResults.map((r) => r.payload.result))
    expect(outputs[2]).toEqual({
      error: {
        code: 'spending_cap_exceeded',
        message: expect.stringContaining('budget "customer-acme"'),
      },
    })
    expect((await setup.ks.budgets.get('customer-acme')).limits[0]?.spent).toBe(0.04)
  })
})

describe('budget scope: killSwitchToolHooks beside killSwitchModel (the request scope)', () => {
  // The hooks see no request scope of their own: a paid tool takes the budgets of the model
  // call that asked for it (by Mastra's tool call id), or a customer's budget chosen per
  // request would pay for the model but not for its paid tools.
  it('holds a paid tool on the budget the request chose for the model call that asked for it', async () => {
    const setup = await killSwitchWithAgent(100, 'tools-agent', CAP_ONLY)
    await setup.ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 1, per: 'day' }] })
    const { tool, counter } = searchTool()
    const options = { killSwitch: setup.ks, credential: setup.credential }
    const agent = agentOf(killSwitchModel(loopingModel(), options), {
      tools: { search: tool },
      hooks: killSwitchToolHooks({ ...options, toolPrices: { search: 0.02 } }),
    } as Partial<Agent>)
    await agent.generate('go', {
      maxSteps: 3,
      providerOptions: { killswitch: { budgets: ['customer-acme'] } },
    })
    expect(counter.runs).toBe(3)
    // Everything this agent spent was for the customer: its model calls and three searches.
    const { spent } = await setup.ks.agents.get('tools-agent')
    expect(spent).toBeGreaterThan(3 * 0.02)
    const budget = (await setup.ks.budgets.get('customer-acme')).limits[0]
    expect(budget?.spent).toBeCloseTo(spent, 6)
  })
})
