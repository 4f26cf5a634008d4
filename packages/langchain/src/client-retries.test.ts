// A chat model's own client retries (LangChain's AsyncCaller, `maxRetries`, 6 by default) run
// inside one guarded call: one hold would pay for up to 7 provider attempts (red team rt28:
// $13.39 billed on a $9 cap). guardModel and the middleware refuse such a model before
// anything is held or sent; retries belong to modelRetryMiddleware, each attempt a guarded
// call of its own. The real ChatOpenAI against a local server that keeps its own bill.
import { findKillSwitchError, InvalidConfigError, toMicros } from '@killswitch/core'
import { ChatOpenAI } from '@langchain/openai'
import { createAgent, createMiddleware, modelRetryMiddleware } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { refuseClientRetries } from './client-retries.js'
import { guardModel } from './guard-model.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { withMaxOutputTokens } from './model-binding.js'
import type { OpenAIServer, OpenAIServerOptions } from './testing/openai-server.js'
import { chatOpenAI, guardedBy, ledger, rejection, testAgent } from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const question = { messages: [{ role: 'user', content: 'Summarise the incident report.' }] }

/** An agent and a ChatOpenAI with `maxRetries` (undefined: the client's default of 6). */
async function setup(maxRetries: number | undefined, server?: Partial<OpenAIServerOptions>) {
  const agent = await testAgent({ spendingCap: 100 })
  const fields = { maxTokens: 100, maxRetries }
  const { model, provider } = await chatOpenAI({ outputTokens: 40, fields, server })
  servers.push(provider)
  return { agent, model, provider }
}

/** What `run` threw, synchronously or not. */
async function thrown(run: () => unknown): Promise<unknown> {
  return rejection((async () => run())())
}

/** The typed refusal naming `maxRetries`, with nothing held, charged or sent. */
async function expectRefused(
  error: unknown,
  { agent, provider }: Awaited<ReturnType<typeof setup>>,
) {
  const refusal = findKillSwitchError(error)
  expect(refusal).toBeInstanceOf(InvalidConfigError)
  expect((refusal as InvalidConfigError).field).toBe('maxRetries')
  expect((refusal as InvalidConfigError).message).toContain('modelRetryMiddleware')
  expect(provider.requests).toHaveLength(0)
  expect(agent.reserved).toHaveLength(0)
  expect(await ledger(agent)).toEqual({ spent: 0, held: 0 })
}

describe('a model that retries inside one call is refused', () => {
  it.each([
    ['the client default (6)', undefined],
    ['maxRetries: 2', 2],
  ])('guardModel refuses it at once: %s', async (_name, maxRetries) => {
    const setupOf = await setup(maxRetries)
    const error = await thrown(() => guardModel(setupOf.model, guardedBy(setupOf.agent)))
    await expectRefused(error, setupOf)
  })

  it('guardModel refuses a model its withConfig builds with retries, and a call asking for them', async () => {
    const setupOf = await setup(0)
    const guarded = guardModel(setupOf.model, guardedBy(setupOf.agent))
    await expectRefused(await thrown(() => guarded.withConfig({ maxRetries: 3 })), setupOf)
    await expectRefused(await rejection(guarded.invoke('hi', { maxRetries: 2 })), setupOf)
    // ChatOpenAI's request options override its caller's count too.
    const options = { options: { maxRetries: 2 } }
    await expectRefused(await rejection(guarded.invoke('hi', options)), setupOf)
  })

  it.each([
    ['the client default (6)', undefined],
    ['maxRetries: 2', 2],
  ])('killSwitchMiddleware refuses it at the model call: %s', async (_name, maxRetries) => {
    const setupOf = await setup(maxRetries)
    const killSwitch = killSwitchMiddleware(guardedBy(setupOf.agent))
    const agent = createAgent({ model: setupOf.model, tools: [], middleware: [killSwitch] })
    await expectRefused(await rejection(agent.invoke(question)), setupOf)
  })

  it("killSwitchMiddleware refuses createAgent's modelSettings asking for retries", async () => {
    const setupOf = await setup(0)
    const settings = createMiddleware({
      name: 'RetriesInSettings',
      wrapModelCall: (request, handler) =>
        handler({ ...request, modelSettings: { ...request.modelSettings, maxRetries: 2 } }),
    })
    const killSwitch = killSwitchMiddleware(guardedBy(setupOf.agent))
    const middleware = [settings, killSwitch]
    const agent = createAgent({ model: setupOf.model, tools: [], middleware })
    await expectRefused(await rejection(agent.invoke(question)), setupOf)
  })

  it('reads every caller a model sends through, and lets a model with no caller at all pass', () => {
    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test' })
    // ChatOpenAI sends through its completions model, whose caller keeps its own count.
    Object.assign(model.caller, { maxRetries: 0 })
    expect(() => refuseClientRetries(model)).toThrow(InvalidConfigError)
    expect(() => refuseClientRetries({ caller: {} })).toThrow(/does not show/)
    expect(() => refuseClientRetries({ caller: undefined })).not.toThrow()
  })

  it("the middleware's clamped rebuild keeps a retry count set on the model's caller", () => {
    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxTokens: 4000 })
    Object.assign(model.caller, { maxRetries: 0 })
    const clamped = withMaxOutputTokens(model, 100)
    expect(clamped).not.toBe(model)
    expect(() => refuseClientRetries(clamped)).not.toThrow()
  })
})

describe('maxRetries: 0 with modelRetryMiddleware', () => {
  it('holds and charges each attempt: a 500 that billed, then an answer', async () => {
    const { agent, model, provider } = await setup(0, {
      failStatus: 500,
      failTimes: 1,
      failBillsInput: true,
    })
    const retry = modelRetryMiddleware({
      maxRetries: 2,
      initialDelayMs: 0,
      retryOn: (error) => !findKillSwitchError(error),
      onFailure: 'error',
    })
    const killSwitch = killSwitchMiddleware(guardedBy(agent))
    const graph = createAgent({ model, tools: [], middleware: [retry, killSwitch] })

    const result = await graph.invoke(question)

    expect(result.messages.at(-1)?.text).toContain('word')
    expect(provider.requests).toHaveLength(2)
    expect(agent.reserved).toHaveLength(2)
    // The 500 may have run the model, and nothing is known of what it used: charged the most
    // it can cost, as unreconciled: the question's input bound (154 tokens) and the 100
    // output tokens told (maxTokens), at $1 per thousand: (154 + 100) x 1,000 = 254,000; not
    // its hold (754,000: six times the output, an unknown tokenizer's count headroom). The
    // answer at its usage: (10 + 40) x 1,000.
    const [failed = 0, answered = 0] = agent.settled.map(toMicros)
    expect(failed).toBe((154 + 100) * 1000)
    expect(answered).toBe((10 + 40) * 1000)
    const { spent, held } = await ledger(agent)
    expect(held).toBe(0)
    expect(spent).toBe(failed + answered)
    expect(spent).toBeGreaterThanOrEqual(provider.billMicros())
    expect(toMicros((await agent.ks.agents.get(agent.handle)).unreconciled)).toBe(failed)
  })
})
