// The official `openai` package, unmodified, pointed at the gateway: only baseURL and
// apiKey (the agent's ks_ credential) change. The upstream is the local fake provider.
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { REPLY } from './testing/fake-wire.js'
import { type GatewayFixture, OPENAI_KEY, startGatewayFixture } from './testing/gateway-fixture.js'

const messages = [{ role: 'user' as const, content: 'Say hello.' }]

describe('the openai SDK through the gateway', () => {
  let f: GatewayFixture
  const client = (apiKey: string) => new OpenAI({ baseURL: f.openaiBaseURL, apiKey })

  beforeAll(async () => {
    f = await startGatewayFixture()
  })
  afterAll(() => f.close())

  it('answers a chat completion and charges exactly what the provider billed', async () => {
    const key = await f.agent('chat')
    const before = f.upstream.billMicros()
    const completion = await client(key).chat.completions.create({ model: 'gpt-4o', messages })
    expect(completion.choices[0]?.message.content).toBe(REPLY)
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(800)
    // 400 uncached at $2.50 + 800 cached at $1.25 + 300 output at $10 per million tokens.
    expect(f.upstream.billMicros() - before).toBe(5_000)
    expect(await f.spentMicros('chat')).toBe(5_000)
    const call = f.upstream.calls.at(-1)
    expect(call?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`)
    expect(JSON.stringify(call?.headers)).not.toContain(key)
  })

  it('streams a chat completion, forcing usage upstream and hiding the usage chunk it did not ask for', async () => {
    const key = await f.agent('chat-stream')
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o',
      messages,
      stream: true,
    })
    let text = ''
    for await (const chunk of stream) {
      expect(chunk.choices.length).toBeGreaterThan(0)
      text += chunk.choices[0]?.delta.content ?? ''
    }
    expect(text).toBe(REPLY)
    const sent = f.upstream.calls.at(-1)?.body as { stream_options?: { include_usage?: boolean } }
    expect(sent.stream_options?.include_usage).toBe(true)
    expect(await f.spentMicros('chat-stream')).toBe(5_000)
  })

  it('passes the usage chunk on to an agent that asked for it', async () => {
    const key = await f.agent('chat-stream-usage')
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    })
    let usage: OpenAI.CompletionUsage | null | undefined
    for await (const chunk of stream) usage = chunk.usage ?? usage
    expect(usage?.completion_tokens_details?.reasoning_tokens).toBe(120)
    expect(await f.spentMicros('chat-stream-usage')).toBe(5_000)
  })

  it('answers the Responses API, whole and streamed, settled from its usage', async () => {
    const key = await f.agent('responses')
    const whole = await client(key).responses.create({ model: 'gpt-4o', input: 'Say hello.' })
    expect(whole.output_text).toBe(REPLY)
    expect(await f.spentMicros('responses')).toBe(5_000)
    const stream = await client(key).responses.create({
      model: 'gpt-4o',
      input: 'Say hello.',
      stream: true,
    })
    let text = ''
    for await (const event of stream)
      if (event.type === 'response.output_text.delta') text += event.delta
    expect(text).toBe(REPLY)
    expect(await f.spentMicros('responses')).toBe(10_000)
  })

  it('answers embeddings (base64 as the SDK asks) and lists models', async () => {
    const key = await f.agent('embedder')
    const result = await client(key).embeddings.create({
      model: 'text-embedding-3-small',
      input: ['one', 'two'],
    })
    expect(result.data.map((item) => item.embedding)).toEqual([
      [0.25, -0.5, 0.125],
      [0.25, -0.5, 0.125],
    ])
    // 42 tokens at $0.02 per million is 0.84 micro-dollars: rounded up, as billed.
    expect(await f.spentMicros('embedder')).toBe(1)
    const models = await client(key).models.list()
    expect(models.data.map((model) => model.id)).toContain('gpt-4o')
  })

  it('answers embeddings of a model the bundled price data prices for input only', async () => {
    const key = await f.agent('bundled-embedder')
    const result = await client(key).embeddings.create({
      model: 'text-embedding-3-large',
      // Under the 42 tokens the fake reports (the core counts this model's input with its
      // tokenizer: a report below the text's count is not believed).
      input: 'The quarterly report shows revenue up on the new enterprise tier.',
    })
    expect(result.data).toHaveLength(1)
    const spent = await f.spentMicros('bundled-embedder')
    // Charged its input at the bundled $0.13 per million, never refused nor free.
    expect(spent).toBeGreaterThan(0)
    expect(spent).toBe(Math.ceil((result.usage.prompt_tokens * 0.13) / 1))
  })

  it('clamps every output limit to what the budget pays for', async () => {
    const key = await f.agent('clamped', 0.02)
    // $0.02 at $10 per million output tokens pays for at most 2,000 of them.
    await client(key).chat.completions.create({
      model: 'gpt-4o',
      messages,
      max_completion_tokens: 1_000_000,
    })
    const modern = f.upstream.calls.at(-1)?.body
    expect(modern?.max_completion_tokens).toBeLessThanOrEqual(2_000)
    expect(modern?.max_completion_tokens).toBeGreaterThan(0)
    await client(key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1_000_000 })
    const legacy = f.upstream.calls.at(-1)?.body
    expect(legacy?.max_tokens).toBeLessThanOrEqual(2_000)
    expect(legacy).not.toHaveProperty('max_completion_tokens')
    await client(key).responses.create({
      model: 'gpt-4o',
      input: 'hi',
      max_output_tokens: 1_000_000,
    })
    expect(f.upstream.calls.at(-1)?.body?.max_output_tokens).toBeLessThanOrEqual(2_000)
    // n choices share the hold's tokens.
    await client(key).chat.completions.create({
      model: 'gpt-4o',
      messages,
      n: 4,
      max_completion_tokens: 1_000_000,
    })
    expect(f.upstream.calls.at(-1)?.body?.max_completion_tokens).toBeLessThanOrEqual(500)
  })

  it('refuses with 402 over the cap before calling the provider', async () => {
    const key = await f.agent('broke', 0.000_001)
    const calls = f.upstream.calls.length
    const error = await client(key)
      .chat.completions.create({ model: 'gpt-4o', messages })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(402)
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('spending_cap_exceeded')
    expect(f.upstream.calls.length).toBe(calls)
    expect(await f.spentMicros('broke')).toBe(0)
  })

  it('refuses with 422 audio input to a model priced at its text rates, before calling the provider', async () => {
    const key = await f.agent('listener')
    const calls = f.upstream.calls.length
    const error = await client(key)
      .chat.completions.create({
        model: 'gpt-4o-audio-preview',
        modalities: ['text'],
        messages: [
          {
            role: 'user',
            content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }],
          },
        ],
      })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(422)
    expect((error as Error).message).toMatch(/audio input/)
    expect(f.upstream.calls.length).toBe(calls)
    expect(await f.spentMicros('listener')).toBe(0)
  })

  it('refuses with 401 on the next call after a revoke, and refuses keys that are not ks_ credentials', async () => {
    const key = await f.agent('revoked')
    await client(key).chat.completions.create({ model: 'gpt-4o', messages })
    await f.ks.agents.revoke('revoked', { reason: 'test' })
    const calls = f.upstream.calls.length
    await expect(
      client(key).chat.completions.create({ model: 'gpt-4o', messages }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    await expect(client(key).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    // The provider's own key is not accepted from an agent: it never reaches the provider.
    await expect(
      client(OPENAI_KEY).chat.completions.create({ model: 'gpt-4o', messages }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    await expect(
      client(`ks_${'A'.repeat(43)}`).chat.completions.create({ model: 'gpt-4o', messages }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    expect(f.upstream.calls.length).toBe(calls)
  })

  it('aborts a call waiting for a whole answer on revoke and answers 401', async () => {
    const key = await f.agent('cut-whole')
    f.upstream.hang = true
    try {
      const calls = f.upstream.calls.length
      const pending = client(key).chat.completions.create({ model: 'gpt-4o', messages })
      await vi.waitFor(() => expect(f.upstream.calls.length).toBe(calls + 1))
      await f.ks.agents.revoke('cut-whole', { reason: 'cut' })
      await expect(pending).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
      const call = f.upstream.calls.at(-1)
      await vi.waitFor(() => expect(call?.aborted).toBe(true))
      // It left, and no usage came back: charged, nothing left held.
      expect(await f.spentMicros('cut-whole')).toBeGreaterThan(0)
      expect((await f.ks.agents.get('cut-whole')).held).toBe(0)
    } finally {
      f.upstream.hang = false
    }
  })

  for (const api of ['chat', 'responses'] as const) {
    it(`cuts a ${api} stream in flight on revoke with a final error event, aborting the upstream request`, async () => {
      const handle = `cut-${api}`
      const key = await f.agent(handle)
      f.upstream.hang = true
      try {
        const seen: string[] = []
        const consume = async () => {
          if (api === 'chat') {
            const stream = await client(key).chat.completions.create({
              model: 'gpt-4o',
              messages,
              stream: true,
            })
            for await (const chunk of stream) {
              const text = chunk.choices[0]?.delta.content
              if (text) seen.push(text)
              if (seen.length === 1 && text) await f.ks.agents.revoke(handle, { reason: 'cut' })
            }
          } else {
            const stream = await client(key).responses.create({
              model: 'gpt-4o',
              input: 'hi',
              stream: true,
            })
            for await (const event of stream) {
              if (event.type !== 'response.output_text.delta') continue
              seen.push(event.delta)
              if (seen.length === 1) await f.ks.agents.revoke(handle, { reason: 'cut' })
            }
          }
        }
        const error = await consume().catch((caught: unknown) => caught)
        expect(error).toBeInstanceOf(OpenAI.APIError)
        expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('agent_revoked')
        expect(seen).toEqual(['Hello'])
        const call = f.upstream.calls.at(-1)
        await vi.waitFor(() => expect(call?.aborted).toBe(true))
        expect(call?.completed).toBe(false)
        // Output was produced before the cut: the call left, so it is charged, never free.
        expect(await f.spentMicros(handle)).toBeGreaterThan(0)
        expect((await f.ks.agents.get(handle)).held).toBe(0)
      } finally {
        f.upstream.hang = false
      }
      await expect(
        client(key).chat.completions.create({ model: 'gpt-4o', messages }),
      ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    })
  }
})

describe('runaway refusals through the gateway', () => {
  let f: GatewayFixture
  beforeAll(async () => {
    f = await startGatewayFixture({
      runaway: {
        observe: async (agent, observation) =>
          agent.handle === 'loopy' && observation.kind === 'model_call'
            ? {
                action: 'block',
                enforced: true,
                finding: { detector: 'test-loop', status: 'trip', summary: 'the same call again' },
              }
            : { action: 'none', enforced: true },
      },
    })
  })
  afterAll(() => f.close())

  it('answers 429 in the OpenAI shape, which the SDK raises as a RateLimitError without retrying', async () => {
    const key = await f.agent('loopy')
    const calls = f.upstream.calls.length
    const logged = f.logs.length
    const error = await new OpenAI({ baseURL: f.openaiBaseURL, apiKey: key }).chat.completions
      .create({ model: 'gpt-4o', messages })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('runaway_detected')
    expect(f.upstream.calls.length).toBe(calls)
    // One request: `x-should-retry: false` stopped the SDK's automatic retries.
    expect(
      f.logs.slice(logged).filter((line) => line.includes('/v1/chat/completions')),
    ).toHaveLength(1)
  })
})
