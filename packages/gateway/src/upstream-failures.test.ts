// When the provider cannot be reached the request provably never left: the hold is released
// and the agent gets a 502 in the API's shape.
import { createKillSwitch, toMicros } from '@killswitch/core'
import OpenAI from 'openai'
import { describe, expect, it } from 'vitest'
import { startGateway } from './start-gateway.js'
import { failure } from './testing/failure.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

describe('an unreachable provider', () => {
  it('answers 502 and releases the hold', async () => {
    const ks = createKillSwitch({
      prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 } },
      runaway: false,
    })
    const errors: unknown[] = []
    // Port 2: below the range the system hands out for port 0, so no server of this or a
    // parallel test file can be given it (a port freed by a probe could be, and the
    // "provider" then answered 401), and not one of fetch's blocked ports (1 is: refused
    // before any connection); nothing listens there: the connection is refused.
    const gateway = await startGateway({
      killSwitch: ks,
      port: 0,
      env: { OPENAI_API_KEY: 'sk-unused', OPENAI_BASE_URL: 'http://127.0.0.1:2/v1' },
      onError: (error) => errors.push(error),
    })
    try {
      const agent = await ks.agents.create({ handle: 'offline', spendingCap: 1 })
      const client = new OpenAI({
        baseURL: `${gateway.url}/v1`,
        apiKey: agent.credential,
        maxRetries: 0,
      })
      const error = await failure<InstanceType<typeof OpenAI.APIError>>(
        client.chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      )
      expect(error.status).toBe(502)
      expect(error.code).toBe('upstream_unreachable')
      const snapshot = await ks.agents.get('offline')
      expect(snapshot.held).toBe(0)
      expect(snapshot.spent).toBe(0)
      expect(errors).toHaveLength(1)
    } finally {
      await gateway.close()
      await ks.close()
    }
  })

  it('answers 503 for an API whose provider is not configured, before holding anything', async () => {
    const ks = createKillSwitch({ runaway: false })
    const gateway = await startGateway({ killSwitch: ks, port: 0, env: {} })
    try {
      const agent = await ks.agents.create({ handle: 'nowhere', spendingCap: 1 })
      const response = await fetch(`${gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': agent.credential, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [] }),
      })
      expect(response.status).toBe(503)
      expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } })
      const health = await (await fetch(`${gateway.url}/health`)).json()
      expect(health).toEqual({ status: 'ok', upstreams: { openai: false, anthropic: false } })
    } finally {
      await gateway.close()
      await ks.close()
    }
  })

  it.each([
    [429, 0],
    [400, 0],
    [503, 0],
    [529, 0],
    [500, 'the whole hold'],
    [502, 'the whole hold'],
  ] as const)(
    'a provider answering %i: a refusal (overloaded included) costs nothing, a server error is charged',
    async (status, expected) => {
      const handle = `answered-${status}`
      let heldInFlight = 0
      const { ks, gateway, close } = await scriptedGateway((_request, response, ks) => {
        void ks.agents.get(handle).then((agent) => {
          heldInFlight = toMicros(agent.held)
          response.writeHead(status, { 'content-type': 'application/json' })
          response.end(JSON.stringify({ error: { message: 'nope', type: 'error' } }))
        })
      })
      try {
        const agent = await ks.agents.create({ handle, spendingCap: 1 })
        const client = new OpenAI({
          baseURL: `${gateway.url}/v1`,
          apiKey: agent.credential,
          maxRetries: 0,
        })
        await failure(
          client.chat.completions.create({
            model: 'gpt-4o',
            messages: [{ role: 'user', content: 'hi' }],
          }),
        )
        const snapshot = await ks.agents.get(handle)
        expect(snapshot.held).toBe(0)
        expect(heldInFlight).toBeGreaterThan(0)
        // A 500 or 502 says nothing of what the work cost: the request left, so the whole
        // hold. A 503 or 529 turned it away unserved, as a 429 does.
        expect(toMicros(snapshot.spent)).toBe(expected === 0 ? 0 : heldInFlight)
      } finally {
        await close()
      }
    },
  )

  it.each([
    ['/v1/chat/completions', 429, {}, 'gpt-4o'],
    ['/v1/messages', 529, { 'anthropic-version': '2023-06-01' }, 'claude-sonnet-4-0'],
  ] as const)(
    "%s answered %i: the provider's retry-after and rate-limit headers reach the agent, the key masked",
    async (path, status, headers, model) => {
      const handle = `retry-${status}`
      const { ks, gateway, close } = await scriptedGateway((request, response) => {
        request.resume()
        response.writeHead(status, {
          'content-type': 'application/json',
          'retry-after': '5',
          'retry-after-ms': '5000',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '5s',
          'anthropic-ratelimit-requests-reset': '2026-12-04T20:00:05Z',
          // An echo of the key the gateway sent, in a header it passes on.
          'x-ratelimit-note': `for ${String(request.headers.authorization ?? request.headers['x-api-key'])}`,
          'x-internal-route': 'shard-7',
        })
        response.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error' } }))
      })
      try {
        const agent = await ks.agents.create({ handle, spendingCap: 1 })
        const response = await fetch(`${gateway.url}${path}`, {
          method: 'POST',
          headers: {
            'x-api-key': agent.credential,
            'content-type': 'application/json',
            ...headers,
          },
          body: JSON.stringify({
            model,
            max_tokens: 10,
            messages: [{ role: 'user', content: 'hi' }],
          }),
        })
        expect(response.status).toBe(status)
        expect(await response.json()).toMatchObject({ error: { message: 'slow down' } })
        expect(Object.fromEntries(response.headers)).toMatchObject({
          'retry-after': '5',
          'retry-after-ms': '5000',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '5s',
          'anthropic-ratelimit-requests-reset': '2026-12-04T20:00:05Z',
        })
        expect(response.headers.get('x-ratelimit-note')).toMatch(/^for (Bearer )?\[redacted\]$/)
        expect(response.headers.has('x-internal-route')).toBe(false)
        // Turned away unserved: nothing charged, nothing left held.
        expect(await ks.agents.get(handle)).toMatchObject({ spent: 0, held: 0 })
      } finally {
        await close()
      }
    },
  )
})
