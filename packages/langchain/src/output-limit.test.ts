// A model's kwargs (ChatOpenAI's modelKwargs, ChatAnthropic's invocationKwargs) are spread
// into the request after max_tokens: their limits are the call's. Through createAgent and the
// real ChatOpenAI (Responses API) against a local server billing up to the limit it receives.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createKillSwitch, type KillSwitch, toMicros } from '@killswitch/core'
import { ChatOpenAI } from '@langchain/openai'
import { createAgent } from 'langchain'
import { afterEach, describe, expect, it } from 'vitest'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { requestedOutputTokens, withMaxOutputTokens } from './model-binding.js'

const sent: Array<Record<string, unknown>> = []
let close = async () => {}
afterEach(() => close())

/** An OpenAI Responses API server generating up to max_output_tokens. */
async function responsesServer(): Promise<string> {
  sent.length = 0
  const server = createServer(async (req, res) => {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = JSON.parse(raw) as Record<string, unknown>
    sent.push(body)
    const out = Number(body.max_output_tokens ?? 50_000)
    const text = { type: 'output_text', text: 'hi', annotations: [] }
    const message = { type: 'message', id: 'm1', role: 'assistant', status: 'completed' }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        id: 'resp_1',
        object: 'response',
        created_at: 1,
        model: body.model,
        status: 'completed',
        output: [{ ...message, content: [text] }],
        usage: {
          input_tokens: 20,
          output_tokens: out,
          total_tokens: 20 + out,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens_details: { reasoning_tokens: out - 1 },
        },
      }),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
}

async function setup(spendingCap: number, fields: Record<string, unknown> = {}) {
  const baseURL = await responsesServer()
  const ks = createKillSwitch({ runaway: false })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap })
  const model = new ChatOpenAI({
    model: 'o4-mini',
    apiKey: 'sk-test',
    maxRetries: 0,
    useResponsesApi: true,
    configuration: { baseURL },
    modelKwargs: { max_output_tokens: 40_000 },
    ...fields,
  })
  const killSwitch = killSwitchMiddleware({ killSwitch: ks, credential })
  const agent = createAgent({ model, tools: [], middleware: [killSwitch] })
  return { ks, model, agent }
}

async function hold(ks: KillSwitch) {
  const entries = (await ks.audit('a')).filter((entry) => entry.type === 'hold')
  expect(entries).toHaveLength(1)
  const data = entries[0]!.data as { maxOutputTokens: number; requestedMaxOutputTokens: unknown }
  return { clamp: data.maxOutputTokens, requested: data.requestedMaxOutputTokens }
}

const question = { messages: [{ role: 'user', content: 'think' }] }

describe('modelKwargs output limits', () => {
  it('holds for modelKwargs.max_output_tokens and clamps it near the cap', async () => {
    const cap = 0.01
    const { ks, agent } = await setup(cap)

    await agent.invoke(question)

    const { clamp, requested } = await hold(ks)
    expect(requested).toBe(40_000)
    expect(clamp).toBeLessThan(40_000)
    expect(sent.map((body) => body.max_output_tokens)).toEqual([clamp])
    const spent = await ks.agents.get('a')
    expect(spent.held).toBe(0)
    expect(toMicros(spent.spent)).toBeLessThanOrEqual(toMicros(cap))
  })

  it('holds for every choice of n and splits the clamp between them', async () => {
    const cap = 0.01
    const { ks, agent } = await setup(cap, { n: 4, modelKwargs: { max_output_tokens: 1_000 } })

    await agent.invoke(question)

    const { clamp, requested } = await hold(ks)
    expect(requested).toBe(4_000)
    const [perChoice] = sent.map((body) => body.max_output_tokens as number)
    expect((perChoice ?? Number.POSITIVE_INFINITY) * 4).toBeLessThanOrEqual(clamp)
    expect(toMicros((await ks.agents.get('a')).spent)).toBeLessThanOrEqual(toMicros(cap))
  })

  it('sends an honest call far from the cap unchanged', async () => {
    const { ks, model, agent } = await setup(100, { maxTokens: 2_000 })
    await model.invoke('think')
    await agent.invoke(question)

    expect((await hold(ks)).requested).toBe(40_000)
    expect(sent.map((body) => body.max_output_tokens)).toEqual([40_000, 40_000])
    const { input: _a, ...direct } = sent[0]!
    const { input: _b, ...guarded } = sent[1]!
    expect(guarded).toEqual(direct)
  })
})

/** A chat model with ChatAnthropic's settings: max_tokens counts its thinking budget. */
class AnthropicLike {
  readonly lc_kwargs: Record<string, unknown>
  readonly maxTokens: number | undefined
  constructor(fields: Record<string, unknown>) {
    this.lc_kwargs = fields
    this.maxTokens = fields.maxTokens as number | undefined
  }
}

describe('withMaxOutputTokens', () => {
  it('keeps a thinking budget (own or in invocationKwargs) below the clamped max_tokens', () => {
    const model = new AnthropicLike({
      maxTokens: 32_000,
      thinking: { type: 'enabled', budget_tokens: 20_000 },
      invocationKwargs: {
        max_tokens: 64_000,
        thinking: { type: 'enabled', budget_tokens: 30_000 },
      },
    })
    expect(requestedOutputTokens(model, undefined)).toBe(64_000)

    const clamped = withMaxOutputTokens(model, 1_000)

    expect(clamped.lc_kwargs).toEqual({
      maxTokens: 1_000,
      thinking: { type: 'enabled', budget_tokens: 999 },
      invocationKwargs: { max_tokens: 1_000, thinking: { type: 'enabled', budget_tokens: 999 } },
    })
    // Within the clamp: the model itself, untouched.
    expect(withMaxOutputTokens(model, 64_000)).toBe(model)
  })

  it('keeps its own lower maxTokens when only a kwarg is past the clamp', () => {
    const model = new AnthropicLike({
      maxTokens: 500,
      modelKwargs: { max_completion_tokens: 9_000 },
    })
    expect(withMaxOutputTokens(model, 2_000).lc_kwargs).toEqual({
      maxTokens: 500,
      modelKwargs: { max_completion_tokens: 2_000 },
    })
  })
})
