// Embeddings through the real @ai-sdk/openai embedding model, pointed at a local server that
// speaks the /v1/embeddings wire format and keeps its own bill: every ending checked in the
// ledger to the micro-dollar.
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOpenAI } from '@ai-sdk/openai'
import {
  AgentRevokedError,
  costOfUsage,
  createPriceSource,
  findKillSwitchError,
  SpendingCapExceededError,
} from '@killswitch/core'
import { embed, embedMany } from 'ai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { withKillSwitch } from './kill-switch-middleware.js'
import { testAgent } from './testing/test-agent.js'

const MODEL = 'text-embedding-3-small'
// Its real price: $0.02 per million input tokens.
const rates = createPriceSource().resolve(MODEL, 'openai')!
const micros = (tokens: number) => costOfUsage({ inputTokens: tokens, outputTokens: 0 }, rates)

/** How the server answers the next request: a token count to bill, or a failure. */
type Answer = { tokens: number | undefined } | { status: number } | 'hang'

describe('embeddings through withKillSwitch (the real OpenAI client)', () => {
  let url = ''
  let answer: Answer = { tokens: 10 }
  let requests: Array<Record<string, unknown>> = []
  let billed = 0
  let hanging: ServerResponse | undefined
  const server = createServer(async (request, response) => {
    let raw = ''
    for await (const part of request) raw += part
    const body = JSON.parse(raw) as { input: string[] }
    requests.push(body)
    if (answer === 'hang') {
      hanging = response
      return
    }
    if ('status' in answer) {
      response.writeHead(answer.status, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: { message: 'no', type: 'server_error' } }))
      return
    }
    const data = body.input.map((_, index) => ({
      object: 'embedding',
      index,
      embedding: [0.1, 0.2],
    }))
    const tokens = answer.tokens
    if (tokens !== undefined) billed += tokens
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(
      JSON.stringify({
        object: 'list',
        data,
        model: MODEL,
        ...(tokens === undefined ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }),
      }),
    )
  })
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  beforeEach(() => {
    answer = { tokens: 10 }
    requests = []
    billed = 0
  })

  async function setup(cap: number, runaway = false) {
    const agent = await testAgent(cap, runaway ? {} : { runaway: false })
    const openai = createOpenAI({ baseURL: url, apiKey: 'sk-test' })
    const model = withKillSwitch(openai.embedding(MODEL), {
      killSwitch: agent.ks,
      credential: agent.credential,
    })
    return { agent, model }
  }

  it("settles the provider's token count, to the micro-dollar, call by call", async () => {
    const { agent, model } = await setup(1)
    answer = { tokens: 123_456 }
    await embedMany({ model, values: ['a', 'b', 'c'], maxRetries: 0 })
    await embed({ model, value: 'd', maxRetries: 0 })
    expect(billed).toBe(2 * 123_456)
    expect(await agent.ledger()).toMatchObject({ spent: 2 * micros(123_456), held: 0 })
    const settled = (await agent.ks.audit(agent.handle)).filter((entry) => entry.type === 'settled')
    expect(settled.map((entry) => entry.data)).toMatchObject([
      { basis: 'usage', inputTokens: 123_456, outputTokens: 0 },
      { basis: 'usage', inputTokens: 123_456, outputTokens: 0 },
    ])
  })

  it('refuses a call the cap cannot hold before the provider sees it', async () => {
    // The input bound of a 200,000-byte value is about 200,000 tokens: $0.004 on a $0.001 cap.
    const { agent, model } = await setup(0.001)
    const error = await embed({ model, value: 'x'.repeat(200_000), maxRetries: 0 }).catch(
      (caught: unknown) => caught,
    )
    expect(findKillSwitchError(error)).toBeInstanceOf(SpendingCapExceededError)
    expect(requests).toHaveLength(0)
    expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
  })

  it('charges the input bound, never zero, when the provider reports no usage', async () => {
    const { agent, model } = await setup(1)
    answer = { tokens: undefined }
    await embed({ model, value: 'hello there', maxRetries: 0 })
    const { spent, held } = await agent.ledger()
    expect(held).toBe(0)
    expect(spent).toBeGreaterThan(0)
    const [settled] = (await agent.ks.audit(agent.handle)).filter((e) => e.type === 'settled')
    expect(settled?.data).toMatchObject({ basis: 'counted', outputTokens: 0 })
  })

  it('does not believe a token count below what its values come to: charged the input bound', async () => {
    const { agent, model } = await setup(1)
    const values = Array.from(
      { length: 100 },
      (_, i) => `Section ${i}: revenue grew in every region.`,
    )
    answer = { tokens: 1 }
    await embedMany({ model, values, maxRetries: 0 })
    const [settled] = (await agent.ks.audit(agent.handle)).filter((e) => e.type === 'settled')
    expect(settled?.data).toMatchObject({ basis: 'counted', usageNotBelieved: ['inputTokens'] })
    const bytes = values.reduce((sum, value) => sum + Buffer.byteLength(value), 0)
    const { inputTokens } = (settled?.data ?? {}) as { inputTokens: number }
    expect(inputTokens).toBeGreaterThan(bytes)
    expect((await agent.ledger()).spent).toBe(micros(inputTokens))
  })

  it('releases a call the provider refused (400); charges one that failed after it left (500)', async () => {
    const { agent, model } = await setup(1)
    answer = { status: 400 }
    await expect(embed({ model, value: 'hi', maxRetries: 0 })).rejects.toThrow()
    expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
    answer = { status: 500 }
    await expect(embed({ model, value: 'hi', maxRetries: 0 })).rejects.toThrow()
    const { spent, held } = await agent.ledger()
    expect(held).toBe(0)
    expect(spent).toBeGreaterThan(0)
  })

  it('stops a call in flight when the agent is revoked, and refuses the next one unsent', async () => {
    const { agent, model } = await setup(1)
    answer = 'hang'
    const pending = embed({ model, value: 'hi', maxRetries: 0 }).catch((caught: unknown) => caught)
    await expect.poll(() => requests.length).toBe(1)
    await agent.revoke('looping')
    expect(findKillSwitchError(await pending)).toBeInstanceOf(AgentRevokedError)
    hanging?.destroy()
    // It left: charged, not released (money that may have left is spent).
    const { spent, held } = await agent.ledger()
    expect(held).toBe(0)
    expect(spent).toBeGreaterThan(0)
    const again = await embed({ model, value: 'hi', maxRetries: 0 }).catch(
      (caught: unknown) => caught,
    )
    expect(findKillSwitchError(again)).toBeInstanceOf(AgentRevokedError)
    expect(requests).toHaveLength(1)
  })

  it('takes a run from providerOptions.killswitch and does not send it to the provider', async () => {
    const { agent, model } = await setup(1)
    await embed({
      model,
      value: 'hi',
      maxRetries: 0,
      providerOptions: { killswitch: { runId: 'ingest-1' } },
    })
    expect(JSON.stringify(requests[0])).not.toContain('ingest-1')
    const [settled] = (await agent.ks.audit(agent.handle)).filter((e) => e.type === 'settled')
    expect(settled?.data).toMatchObject({ runId: 'ingest-1' })
  })

  it('does not stop honest work on the default runaway detectors: an ingestion and a search box', async () => {
    const { agent, model } = await setup(10, true)
    // An ingestion: 5,000 chunks in one embedMany (the SDK splits it into batches).
    const chunks = Array.from({ length: 5_000 }, (_, i) => `Section ${i}: the quarterly figures.`)
    await embedMany({ model, values: chunks, maxRetries: 0 })
    // A search box: 150 queries, some asked again and again by different users.
    for (let i = 0; i < 150; i++) {
      await embed({ model, value: i % 3 === 0 ? 'refund policy' : `question ${i}`, maxRetries: 0 })
    }
    const state = await agent.ks.agents.get(agent.handle)
    expect(state.status).toBe('active')
    const fired = (await agent.ks.audit(agent.handle)).filter(
      (e) => e.type === 'runaway' || e.type === 'denied',
    )
    expect(fired).toEqual([])
  })
})
