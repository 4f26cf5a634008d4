// What the provider bills beyond the tokens is the core's to bound, so both adapters pass all
// the model sends, however ChatOpenAI is told it (its own field, its modelKwargs, a call
// option, createAgent's model settings): an option billed above the standard rates and a
// tool the provider runs itself are refused before the provider is called; content named by
// a call option (a previous response) is held at the context window. Through both adapters
// and the real ChatOpenAI against a local server.
import { findKillSwitchError, UnknownModelPriceError } from '@killswitch/core'
import { createAgent, createMiddleware } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import type { OpenAIServer } from './testing/openai-server.js'
import { chatOpenAI, testAgent } from './testing/test-kit.js'

let provider: OpenAIServer | undefined
afterEach(() => provider?.close())

async function setup(fields: Record<string, unknown> = {}, spendingCap = 100) {
  const agent = await testAgent({ spendingCap })
  const made = await chatOpenAI({ outputTokens: 20, fields: { maxTokens: 100, ...fields } })
  provider = made.provider
  const model = made.model
  const handler = new KillSwitchCallbackHandler({
    killSwitch: agent.ks,
    credential: agent.credential,
  })
  const middleware = killSwitchMiddleware({ killSwitch: agent.ks, credential: agent.credential })
  return { agent, model, provider: made.provider, handler, middleware }
}

const failure = (run: Promise<unknown>) =>
  run.then(
    () => undefined,
    (e: unknown) => findKillSwitchError(e),
  )

async function refusal(run: Promise<unknown>) {
  const error = await failure(run)
  expect(error).toBeInstanceOf(UnknownModelPriceError)
  return (error as Error).message
}

const question = { messages: [{ role: 'user', content: 'hi' }] }

describe('an option billed apart, through the middleware', () => {
  it.each([
    ['its own field', { service_tier: 'priority' }, 'service_tier "priority"'],
    ['its modelKwargs', { modelKwargs: { service_tier: 'scale' } }, 'modelKwargs.service_tier'],
  ])('in %s is refused before the provider is called', async (_where, fields, named) => {
    const { agent, model, provider, middleware } = await setup(fields)
    const runnable = createAgent({ model, tools: [], middleware: [middleware] })

    expect(await refusal(runnable.invoke(question))).toContain(named)

    expect(provider.requests).toHaveLength(0)
    expect(await agent.ks.agents.get(agent.handle)).toMatchObject({ spent: 0, held: 0 })
  })

  it("in createAgent's model settings (set by an inner middleware) is refused", async () => {
    const { model, provider, middleware } = await setup()
    const priority = createMiddleware({
      name: 'Priority',
      wrapModelCall: (request, handler) =>
        handler({ ...request, modelSettings: { service_tier: 'priority' } }),
    })
    const runnable = createAgent({ model, tools: [], middleware: [priority, middleware] })

    expect(await refusal(runnable.invoke(question))).toContain('modelSettings.service_tier')
    expect(provider.requests).toHaveLength(0)
  })

  it.each([
    ['far from the cap', 100],
    ['clamped near the cap (the model rebuilt with a lower limit)', 0.28],
  ])('serves the standard tiers, sent as asked, %s', async (_when, spendingCap) => {
    const { agent, model, provider, middleware } = await setup(
      { service_tier: 'flex' },
      spendingCap,
    )
    await createAgent({ model, tools: [], middleware: [middleware] }).invoke(question)

    expect(provider.requests.map((body) => body.service_tier)).toEqual(['flex'])
    const limit = provider.requests[0]?.max_tokens
    expect(limit === 100).toBe(spendingCap === 100)
    expect((await agent.ks.agents.get(agent.handle)).spent).toBeGreaterThan(0)
  })
})

describe('an option billed apart, through the callback handler', () => {
  it.each([
    ['its own field', { service_tier: 'priority' }, {}],
    ['its modelKwargs', { modelKwargs: { service_tier: 'priority' } }, {}],
    ['a call option', {}, { service_tier: 'priority' }],
  ])('in %s is refused before the provider is called', async (_where, fields, options) => {
    const { agent, model, provider, handler } = await setup(fields)

    type CallOptions = NonNullable<Parameters<typeof model.invoke>[1]>
    const run = model.invoke('hi', { ...(options as CallOptions), callbacks: [handler] })

    expect(await refusal(run)).toContain('service_tier "priority"')
    expect(provider.requests).toHaveLength(0)
    expect(await agent.ks.agents.get(agent.handle)).toMatchObject({ spent: 0, held: 0 })
  })

  it('serves a call without one', async () => {
    const { agent, model, provider, handler } = await setup({ service_tier: 'default' })
    await model.invoke('hi', { callbacks: [handler] })
    expect(provider.requests).toHaveLength(1)
    expect((await agent.ks.agents.get(agent.handle)).spent).toBeGreaterThan(0)
  })
})

// TEST_PRICES: $1 per thousand tokens; the model's context window is the core's default
// (a million tokens), so a hold for content of unknown size is far past a $100 cap.
describe('a tool the provider runs itself', () => {
  it('is refused through the callback handler', async () => {
    const { agent, model, provider, handler } = await setup()
    const searching = model.bindTools([{ type: 'web_search_preview' }])

    const error = await failure(searching.invoke('hi', { callbacks: [handler] }))

    expect(error).toBeInstanceOf(UnknownModelPriceError)
    expect(error?.message).toContain('tool "web_search_preview" the provider runs itself')
    expect(provider.requests).toHaveLength(0)
    expect(await agent.ks.agents.get(agent.handle)).toMatchObject({ spent: 0, held: 0 })
  })

  it('is refused through the middleware', async () => {
    const { model, provider, middleware } = await setup()
    const agent = createAgent({
      model,
      tools: [{ type: 'web_search_preview' }],
      middleware: [middleware],
    })

    const error = await failure(agent.invoke(question))

    expect(error).toBeInstanceOf(UnknownModelPriceError)
    expect(provider.requests).toHaveLength(0)
  })
})

describe('content named by a call option', () => {
  it('(previous_response_id) is held at the context window through the callback handler', async () => {
    const { model, provider, handler } = await setup({ useResponsesApi: true })
    const error = await failure(
      model.invoke('go on', { previous_response_id: 'resp_1', callbacks: [handler] }),
    )
    expect(error?.code).toBe('spending_cap_exceeded')
    expect(provider.requests).toHaveLength(0)
  })

  it("(in modelKwargs or createAgent's model settings) is held at the context window through the middleware", async () => {
    for (const where of ['modelKwargs', 'modelSettings'] as const) {
      const fields =
        where === 'modelKwargs' ? { modelKwargs: { previous_response_id: 'resp_1' } } : {}
      const { model, provider, middleware } = await setup(fields)
      const settings = createMiddleware({
        name: 'Settings',
        wrapModelCall: (request, handler) =>
          handler(
            where === 'modelSettings'
              ? { ...request, modelSettings: { previous_response_id: 'resp_1' } }
              : request,
          ),
      })
      const agent = createAgent({ model, tools: [], middleware: [settings, middleware] })

      expect((await failure(agent.invoke(question)))?.code).toBe('spending_cap_exceeded')
      expect(provider.requests).toHaveLength(0)
      await provider.close()
    }
  })

  it('a call without one is served', async () => {
    const { model, provider, handler, middleware } = await setup()
    await model.invoke('hi', { callbacks: [handler] })
    await createAgent({ model, tools: [], middleware: [middleware] }).invoke(question)
    expect(provider.requests).toHaveLength(2)
  })
})
