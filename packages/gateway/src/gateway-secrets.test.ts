// The provider keys and the agent's credential never leave the gateway: not in responses
// (bodies or headers, refusals and upstream errors included), not in its logs.
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failure } from './testing/failure.js'
import { LEAKY_MODEL } from './testing/fake-upstream.js'
import {
  ANTHROPIC_KEY,
  type GatewayFixture,
  OPENAI_KEY,
  startGatewayFixture,
} from './testing/gateway-fixture.js'

const messages = [{ role: 'user' as const, content: 'Say hello.' }]

/** A fetch that keeps a copy of every response the SDK receives. */
function recordingFetch(seen: string[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init)
    const headers = JSON.stringify([...response.headers.entries()])
    seen.push(`${response.status} ${headers} ${await response.clone().text()}`)
    return response
  }
}

describe('secrets through the gateway', () => {
  let f: GatewayFixture
  beforeAll(async () => {
    f = await startGatewayFixture()
  })
  afterAll(() => f.close())

  it('never returns or logs the provider keys or the agent credential', async () => {
    const seen: string[] = []
    const key = await f.agent('secretive', 0.05)
    const openai = new OpenAI({
      baseURL: f.openaiBaseURL,
      apiKey: key,
      maxRetries: 0,
      fetch: recordingFetch(seen),
    })
    const anthropic = new Anthropic({
      baseURL: f.gateway.url,
      apiKey: key,
      maxRetries: 0,
      fetch: recordingFetch(seen),
    })
    await openai.chat.completions.create({ model: 'gpt-4o', messages })
    for await (const _ of await openai.chat.completions.create({
      model: 'gpt-4o',
      messages,
      stream: true,
    })) {
    }
    await openai.responses.create({ model: 'gpt-4o', input: 'hi' })
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' })
    await openai.models.list()
    await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 100, messages })
    // The provider answers an error that quotes the key it received: passed on redacted.
    const leaky = await failure<InstanceType<typeof OpenAI.APIError>>(
      openai.chat.completions.create({ model: LEAKY_MODEL, messages }),
    )
    expect(leaky.status).toBe(500)
    expect(seen.at(-1)).toContain('[redacted]')
    // Unknown model, bad JSON, over the cap, revoked.
    await openai.chat.completions.create({ model: 'no-such-model', messages }).catch(() => {})
    const raw = await fetch(`${f.openaiBaseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{not json',
    })
    seen.push(await raw.text())
    expect(raw.status).toBe(400)
    await openai.chat.completions
      .create({ model: 'gpt-4o', messages, max_completion_tokens: 1_000_000, n: 100_000 })
      .catch(() => {})
    await f.ks.agents.revoke('secretive', { reason: 'done' })
    await openai.chat.completions.create({ model: 'gpt-4o', messages }).catch(() => {})
    await anthropic.messages
      .create({ model: 'claude-sonnet-4-6', max_tokens: 100, messages })
      .catch(() => {})

    expect(seen.length).toBeGreaterThanOrEqual(12)
    const everything = [...seen, ...f.logs].join('\n')
    for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, key]) expect(everything).not.toContain(secret)
    // One line per request, naming the agent by handle.
    expect(f.logs.filter((line) => line.startsWith('gateway ')).length).toBeGreaterThanOrEqual(12)
    // A stream logs once, at its end, with what it cost.
    const streamed = f.logs.filter(
      (line) => line.includes('/v1/chat/completions 200') && line.includes(' stream '),
    )
    expect(streamed).toEqual([
      expect.stringMatching(/agent=secretive model=gpt-4o stream settled cost=\$0\.005 /),
    ])
  })

  it('answers 502 when the provider refuses the gateway key, without passing its message on', async () => {
    const wrong = await startGatewayFixture({ openaiKey: 'sk-wrong-key-that-the-provider-quotes' })
    try {
      const key = await wrong.agent('misconfigured')
      const client = new OpenAI({ baseURL: wrong.openaiBaseURL, apiKey: key, maxRetries: 0 })
      const error = await failure<InstanceType<typeof OpenAI.APIError>>(
        client.chat.completions.create({ model: 'gpt-4o', messages }),
      )
      expect(error.status).toBe(502)
      expect(error.code).toBe('upstream_auth_failed')
      expect(JSON.stringify(error)).not.toContain('sk-wrong-key')
      expect(wrong.logs.join('\n')).not.toContain('sk-wrong-key')
      expect((await wrong.ks.agents.get('misconfigured')).held).toBe(0)
    } finally {
      await wrong.close()
    }
  })
})
