// Budget scopes through the AI SDK: an end customer's budget chosen per call with
// `providerOptions.killswitch`, and a run's own budget, against the real core.
import { InvalidConfigError, SpendingCapExceededError } from '@killswitch/core'
import { generateText, isStepCount, streamText, tool } from 'ai'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { guardTools } from './guard-tools.js'
import { withKillSwitch } from './kill-switch-middleware.js'
import { scriptedModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

/** Calls until the guard refuses (at most `max`); returns the refusal and the calls made. */
async function untilRefused(call: () => Promise<unknown>, max = 20) {
  for (let made = 0; made < max; made++) {
    try {
      await call()
    } catch (error) {
      return { error, made }
    }
  }
  throw new Error(`no refusal in ${max} calls`)
}

describe('budget scope: AI SDK', () => {
  it("refuses a customer's call past its budget, naming it, while another customer's call goes through", async () => {
    const agent = await testAgent(10)
    await agent.ks.budgets.create({
      id: 'customer-acme',
      limits: [{ amount: 0.005, per: 'month' }],
    })
    await agent.ks.budgets.create({
      id: 'customer-beta',
      limits: [{ amount: 0.005, per: 'month' }],
    })
    const provider = scriptedModel(() => ({ text: 'ok' }))
    const model = withKillSwitch(provider, { killSwitch: agent.ks, credential: agent.credential })
    const forCustomer = (id: string) =>
      generateText({
        model,
        prompt: 'hi',
        maxOutputTokens: 50,
        providerOptions: { killswitch: { budgets: [id] }, openai: { user: id } },
      })

    const { error, made } = await untilRefused(() => forCustomer('customer-acme'))
    expect(made).toBeGreaterThan(0)
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error).toMatchObject({ level: 'budget', budgetId: 'customer-acme', per: 'month' })
    const acme = await agent.ks.budgets.get('customer-acme')
    expect(acme.limits[0]?.spent).toBeLessThanOrEqual(0.005)
    expect(acme.limits[0]?.held).toBe(0)
    // The refused call never reached the provider.
    expect(provider.doGenerateCalls).toHaveLength(made)

    await expect(forCustomer('customer-beta')).resolves.toMatchObject({ text: 'ok' })
    expect((await agent.ks.budgets.get('customer-beta')).limits[0]?.spent).toBeGreaterThan(0)
    // The provider saw its own options, not the kill switch's.
    const sent = provider.doGenerateCalls.at(-1)?.providerOptions
    expect(sent).toEqual({ openai: { user: 'customer-beta' } })
  })

  it('draws on the budget chosen per call in a stream too', async () => {
    const agent = await testAgent(10)
    await agent.ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 0.001, per: 'day' }] })
    const model = withKillSwitch(
      scriptedModel(() => ({ text: 'ok' })),
      { killSwitch: agent.ks, credential: agent.credential },
    )
    const { error } = await untilRefused(async () => {
      const result = streamText({
        model,
        prompt: 'hi',
        maxOutputTokens: 20,
        providerOptions: { killswitch: { budgets: ['customer-acme'] } },
      })
      await result.text
    })
    expect(error).toMatchObject({ level: 'budget', budgetId: 'customer-acme', per: 'day' })
  })

  it("refuses a call past the run's budget; another run set per call goes through", async () => {
    const agent = await testAgent(10)
    const provider = scriptedModel(() => ({ text: 'ok' }))
    const model = withKillSwitch(provider, {
      killSwitch: agent.ks,
      credential: agent.credential,
      runId: 'run-1',
      runCap: 0.004,
    })
    const { error, made } = await untilRefused(() =>
      generateText({ model, prompt: 'hi', maxOutputTokens: 50 }),
    )
    expect(made).toBeGreaterThan(0)
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error).toMatchObject({
      level: 'budget',
      budgetId: expect.stringMatching(/^run:[^:]+:run-1$/),
    })
    expect((await agent.ledger()).spent).toBeLessThanOrEqual(4_000)

    // The per-call run replaces the option's: a fresh run with its own budget.
    await expect(
      generateText({
        model,
        prompt: 'hi',
        maxOutputTokens: 50,
        providerOptions: { killswitch: { runId: 'run-2', runCap: 0.004 } },
      }),
    ).resolves.toMatchObject({ text: 'ok' })
  })

  it("holds a paid tool's price in the run and budgets its model's call was given per call (red team rt36)", async () => {
    const agent = await testAgent(10)
    await agent.ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 1, per: 'day' }] })
    const model = withKillSwitch(
      scriptedModel((call) =>
        call === 0 ? { tool: 'search', args: { q: 'acme' } } : { text: 'found it' },
      ),
      { killSwitch: agent.ks, credential: agent.credential },
    )
    // guardTools is given no run nor budget: the tool runs in those of the call that asked.
    const search = tool({ inputSchema: z.object({ q: z.string() }), execute: async () => 'found' })
    const tools = guardTools(
      { search },
      { killSwitch: agent.ks, credential: agent.credential, toolPrices: { search: 0.006 } },
    )
    await generateText({
      model,
      tools,
      prompt: 'find acme',
      stopWhen: isStepCount(2),
      providerOptions: { killswitch: { runId: 'task-7', budgets: ['customer-acme'] } },
    })
    // Before: the $0.006 landed on the agent alone, the customer's budget had the model's.
    const acme = await agent.ks.budgets.get('customer-acme')
    expect(acme.limits[0]?.spent).toBeGreaterThanOrEqual(0.006)
    expect(acme.limits[0]?.spent).toBeCloseTo((await agent.ledger()).spent / 1_000_000, 6)
  })

  it("holds a paid tool's price on the budgets of guardTools' options", async () => {
    const agent = await testAgent(10)
    await agent.ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 0.01, per: 'day' }] })
    const tools = guardTools(
      { search: { inputSchema: {} as never, execute: async () => 'found' } },
      {
        killSwitch: agent.ks,
        credential: agent.credential,
        toolPrices: { search: 0.006 },
        budgets: ['customer-acme'],
      },
    )
    const run = (tools.search.execute as (input: unknown, options: unknown) => Promise<unknown>)(
      {},
      { toolCallId: 't', messages: [] },
    )
    await expect(run).resolves.toBe('found')
    const second = (tools.search.execute as (input: unknown, o: unknown) => Promise<unknown>)(
      {},
      { toolCallId: 't2', messages: [] },
    )
    await expect(second).rejects.toMatchObject({ budgetId: 'customer-acme' })
  })

  it('refuses a misspelled per-call scope key before the provider is called', async () => {
    const agent = await testAgent(10)
    const provider = scriptedModel(() => ({ text: 'ok' }))
    const model = withKillSwitch(provider, { killSwitch: agent.ks, credential: agent.credential })
    const run = generateText({
      model,
      prompt: 'hi',
      providerOptions: { killswitch: { budget: ['customer-acme'] } },
    })
    await expect(run).rejects.toBeInstanceOf(InvalidConfigError)
    await expect(run).rejects.toMatchObject({ field: 'providerOptions.killswitch.budget' })
    expect(provider.doGenerateCalls).toHaveLength(0)
  })
})
