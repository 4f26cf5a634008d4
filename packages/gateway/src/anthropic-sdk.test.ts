// The official `@anthropic-ai/sdk`, unmodified, pointed at the gateway: only baseURL and
// apiKey (the agent's ks_ credential) change.
import Anthropic from '@anthropic-ai/sdk'
import { toMicros } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { REPLY } from './testing/fake-wire.js'
import {
  ANTHROPIC_KEY,
  type GatewayFixture,
  startGatewayFixture,
} from './testing/gateway-fixture.js'

const request = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1_024,
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
}

// 200 uncached at $3 + 1,500 cache reads at $0.30 + 400 cache writes at $3.75 + 250 output
// at $15 per million tokens.
const BILLED = 6_300

describe('the Anthropic SDK through the gateway', () => {
  let f: GatewayFixture
  const client = (apiKey: string) => new Anthropic({ baseURL: f.gateway.url, apiKey })

  beforeAll(async () => {
    f = await startGatewayFixture()
  })
  afterAll(() => f.close())

  it('answers a message and charges exactly what the provider billed, cache reads and writes included', async () => {
    const key = await f.agent('claude')
    const before = f.upstream.billMicros()
    const message = await client(key).messages.create(request)
    expect(message.content[0]?.type === 'text' && message.content[0].text).toBe(REPLY)
    expect(f.upstream.billMicros() - before).toBe(BILLED)
    expect(await f.spentMicros('claude')).toBe(BILLED)
    const call = f.upstream.calls.at(-1)
    expect(call?.headers['x-api-key']).toBe(ANTHROPIC_KEY)
    expect(call?.headers['anthropic-version']).toBeDefined()
  })

  it('streams a message (raw events and the SDK stream helper) settled from message_start and message_delta usage', async () => {
    const key = await f.agent('claude-stream')
    const stream = await client(key).messages.create({ ...request, stream: true })
    let text = ''
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
        text += event.delta.text
    }
    expect(text).toBe(REPLY)
    expect(await f.spentMicros('claude-stream')).toBe(BILLED)
    const final = await client(key).messages.stream(request).finalMessage()
    expect(final.usage.cache_read_input_tokens).toBe(1_500)
    expect(await f.spentMicros('claude-stream')).toBe(2 * BILLED)
  })

  it('counts tokens and lists models for free, with the gateway key', async () => {
    const key = await f.agent('claude-free')
    const counted = await client(key).messages.countTokens({
      model: request.model,
      messages: request.messages,
    })
    expect(counted.input_tokens).toBe(12)
    expect(f.upstream.calls.at(-1)?.headers['x-api-key']).toBe(ANTHROPIC_KEY)
    const models = await client(key).models.list()
    expect(f.upstream.calls.at(-1)?.headers['x-api-key']).toBe(ANTHROPIC_KEY)
    expect(models.data.length).toBeGreaterThan(0)
    expect(await f.spentMicros('claude-free')).toBe(0)
  })

  it('clamps max_tokens, and a thinking budget below it, to what the budget pays for', async () => {
    const key = await f.agent('claude-clamped', 0.03)
    // $0.03 at $15 per million output tokens pays for at most 2,000 of them.
    await client(key).messages.create({
      ...request,
      max_tokens: 20_000,
      thinking: { type: 'enabled', budget_tokens: 16_000 },
    })
    const sent = f.upstream.calls.at(-1)?.body as {
      max_tokens: number
      thinking: { budget_tokens: number }
    }
    expect(sent.max_tokens).toBeLessThanOrEqual(2_000)
    expect(sent.thinking.budget_tokens).toBeLessThan(sent.max_tokens)
  })

  it('raises the SDK errors: 402 billing_error over the cap, 401 AuthenticationError after a revoke', async () => {
    const broke = await f.agent('claude-broke', 0.000_001)
    const calls = f.upstream.calls.length
    const error = await client(broke)
      .messages.create(request)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Anthropic.APIError)
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(402)
    expect(JSON.stringify((error as InstanceType<typeof Anthropic.APIError>).error)).toContain(
      'billing_error',
    )

    const key = await f.agent('claude-revoked')
    await f.ks.agents.revoke('claude-revoked', { reason: 'test' })
    await expect(client(key).messages.create(request)).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    )
    // The provider key itself is refused from an agent.
    await expect(client(ANTHROPIC_KEY).messages.create(request)).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    )
    expect(f.upstream.calls.length).toBe(calls)
  })

  it('a thinking stream cut without its final usage is charged its whole hold (thinking streams summarised)', async () => {
    const key = await f.agent('claude-thinking-cut')
    f.upstream.hang = true
    try {
      const thinking = { type: 'enabled' as const, budget_tokens: 2_000 }
      const consume = async () => {
        const stream = await client(key).messages.create({ ...request, thinking, stream: true })
        for await (const event of stream) {
          if (event.type !== 'content_block_delta') continue
          await f.ks.agents.revoke('claude-thinking-cut', { reason: 'cut' })
        }
      }
      await consume().catch(() => undefined)
      await vi.waitFor(() => expect(f.upstream.calls.at(-1)?.aborted).toBe(true))
      const audit = await f.ks.audit('claude-thinking-cut')
      const hold = audit.find((entry) => entry.type === 'hold')?.data
      const settled = audit.find((entry) => entry.type === 'settled')?.data
      // What streamed is one word of its answer: what it thought is billed all the same, so
      // the output is charged at its whole bound (the input at the usage message_start gave).
      expect(settled).toMatchObject({ basis: 'counted' })
      expect(settled?.outputTokens).toBe(hold?.outputCountBound ?? hold?.maxOutputTokens)
      expect(await f.spentMicros('claude-thinking-cut')).toBeGreaterThan(toMicros(0.02))
      expect((await f.ks.agents.get('claude-thinking-cut')).held).toBe(0)
    } finally {
      f.upstream.hang = false
    }
  })

  it('cuts a stream in flight on revoke with a final error event, aborting the upstream request', async () => {
    const key = await f.agent('claude-cut')
    f.upstream.hang = true
    try {
      const seen: string[] = []
      const consume = async () => {
        const stream = await client(key).messages.create({ ...request, stream: true })
        for await (const event of stream) {
          if (event.type !== 'content_block_delta' || event.delta.type !== 'text_delta') continue
          seen.push(event.delta.text)
          await f.ks.agents.revoke('claude-cut', { reason: 'cut' })
        }
      }
      const error = await consume().catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(Anthropic.APIError)
      expect(JSON.stringify((error as InstanceType<typeof Anthropic.APIError>).error)).toContain(
        'authentication_error',
      )
      expect(seen).toEqual(['Hello'])
      const call = f.upstream.calls.at(-1)
      await vi.waitFor(() => expect(call?.aborted).toBe(true))
      expect(call?.completed).toBe(false)
      expect(await f.spentMicros('claude-cut')).toBeGreaterThan(0)
      expect((await f.ks.agents.get('claude-cut')).held).toBe(0)
    } finally {
      f.upstream.hang = false
    }
    await expect(client(key).messages.create(request)).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    )
  })
})
