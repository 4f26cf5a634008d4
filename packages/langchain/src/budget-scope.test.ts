// Budget scopes through LangChain: an end customer's budget chosen per invocation
// (`configurable.killswitch` for the middleware, `metadata.killswitch` for the callback
// handler), and a run's own budget, against the real core and real LangChain runnables.
import { findKillSwitchError, InvalidConfigError, SpendingCapExceededError } from '@killswitch/core'
import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { ChatPromptTemplate } from '@langchain/core/prompts'
import { createAgent } from 'langchain'
import { describe, expect, it } from 'vitest'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { fakeChatModel, TEST_MODEL, testAgent } from './testing/test-kit.js'

// 250 tokens at $1 per thousand: $0.25 a call.
const usage_metadata = { input_tokens: 200, output_tokens: 50, total_tokens: 250 }
const question = { messages: [new HumanMessage('Summarise the incident.')] }
const chainPrompt = ChatPromptTemplate.fromMessages([['human', 'Summarise: {text}']])

function answeringModel(answers = 50) {
  const model = fakeChatModel()
  for (let i = 0; i < answers; i++) model.respond(new AIMessage({ content: 'ok', usage_metadata }))
  return model
}

/** Calls until one is refused (at most `max`); returns the refusal and the calls made. */
async function untilRefused(call: () => Promise<unknown>, max = 20) {
  for (let made = 0; made < max; made++) {
    try {
      await call()
    } catch (error) {
      return { error: findKillSwitchError(error) ?? error, made }
    }
  }
  throw new Error(`no refusal in ${max} calls`)
}

async function withCustomers() {
  const agent = await testAgent({ spendingCap: 100 })
  for (const id of ['customer-acme', 'customer-beta']) {
    await agent.ks.budgets.create({ id, limits: [{ amount: 1, per: 'month' }] })
  }
  return agent
}

describe('budget scope: LangChain middleware (configurable.killswitch)', () => {
  it("refuses a customer's call past its budget, naming it, while another customer's call goes through", async () => {
    const agent = await withCustomers()
    const model = answeringModel()
    const killSwitch = killSwitchMiddleware({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })
    const reactAgent = createAgent({ model, tools: [], middleware: [killSwitch] })
    const forCustomer = (id: string) =>
      reactAgent.invoke(question, { configurable: { killswitch: { budgets: [id] } } })

    const { error, made } = await untilRefused(() => forCustomer('customer-acme'))
    expect(made).toBeGreaterThan(0)
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error).toMatchObject({ level: 'budget', budgetId: 'customer-acme', per: 'month' })
    const acme = await agent.ks.budgets.get('customer-acme')
    expect(acme.limits[0]?.spent).toBe(made * 0.25)
    expect(acme.limits[0]?.held).toBe(0)
    expect(model.callCount).toBe(made)

    await forCustomer('customer-beta')
    expect((await agent.ks.budgets.get('customer-beta')).limits[0]?.spent).toBe(0.25)
  })

  it("refuses a call past the run's budget set in the options", async () => {
    const agent = await testAgent({ spendingCap: 100 })
    const killSwitch = killSwitchMiddleware({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
      runId: 'run-1',
      runCap: 1,
    })
    const reactAgent = createAgent({ model: answeringModel(), tools: [], middleware: [killSwitch] })
    const { error, made } = await untilRefused(() => reactAgent.invoke(question))
    expect(made).toBeGreaterThan(0)
    expect(error).toMatchObject({
      level: 'budget',
      budgetId: expect.stringMatching(/^run:[^:]+:run-1$/),
    })
    expect((await agent.ks.agents.get(agent.handle)).spent).toBeLessThanOrEqual(1)
  })

  it('refuses a misspelled per-call scope key before the model is called', async () => {
    const agent = await testAgent({ spendingCap: 100 })
    const model = answeringModel()
    const killSwitch = killSwitchMiddleware({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })
    const { error } = await untilRefused(() =>
      createAgent({ model, tools: [], middleware: [killSwitch] }).invoke(question, {
        configurable: { killswitch: { budget: ['customer-acme'] } },
      }),
    )
    expect(error).toBeInstanceOf(InvalidConfigError)
    expect(error).toMatchObject({ field: 'configurable.killswitch.budget' })
    expect(model.callCount).toBe(0)
  })
})

describe('budget scope: LangChain callback handler (metadata.killswitch)', () => {
  it("refuses a customer's call past its budget, naming it, while another customer's call goes through", async () => {
    const agent = await withCustomers()
    const model = answeringModel()
    const handler = new KillSwitchCallbackHandler({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
    })
    const chain = chainPrompt.pipe(model)
    const forCustomer = (id: string) =>
      chain.invoke(
        { text: 'report' },
        { callbacks: [handler], metadata: { killswitch: { budgets: [id] } } },
      )

    const { error, made } = await untilRefused(() => forCustomer('customer-acme'))
    expect(made).toBeGreaterThan(0)
    expect(error).toMatchObject({ level: 'budget', budgetId: 'customer-acme' })
    expect((await agent.ks.budgets.get('customer-acme')).limits[0]?.spent).toBe(made * 0.25)
    expect(model.callCount).toBe(made)

    await expect(forCustomer('customer-beta')).resolves.toBeDefined()
    expect((await agent.ks.budgets.get('customer-beta')).limits[0]?.spent).toBe(0.25)
  })

  it("refuses a call past the run's budget; another run chosen per call goes through", async () => {
    const agent = await testAgent({ spendingCap: 100 })
    const handler = new KillSwitchCallbackHandler({
      killSwitch: agent.ks,
      credential: agent.credential,
      model: TEST_MODEL,
      runId: 'run-1',
      runCap: 1,
    })
    const chain = chainPrompt.pipe(answeringModel())
    const { error } = await untilRefused(() =>
      chain.invoke({ text: 'report' }, { callbacks: [handler] }),
    )
    expect(error).toMatchObject({
      level: 'budget',
      budgetId: expect.stringMatching(/^run:[^:]+:run-1$/),
    })
    await expect(
      chain.invoke(
        { text: 'report' },
        { callbacks: [handler], metadata: { killswitch: { runId: 'run-2', runCap: 1 } } },
      ),
    ).resolves.toBeDefined()
  })
})
