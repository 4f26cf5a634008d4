// An agent that sends what a well-behaved client never does: a body nested too deeply to
// serialise, a revoked or unknown credential with a bad body, a credential in the query
// string, an encoded `/` in a model id, a credential as the model. Each is refused (or
// trimmed) before anything is held or the provider sees it, and no credential is logged.
import { connect } from 'node:net'
import type { KillSwitch } from '@killswitch/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { RunningGateway } from './start-gateway.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

const ANTHROPIC = { 'anthropic-version': '2023-06-01' }
const USAGE = { input_tokens: 10, output_tokens: 2, prompt_tokens: 10, completion_tokens: 2 }

interface Forwarded {
  url: string
  body: string
}

describe('a hostile agent', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  const forwarded: Forwarded[] = []
  /** The gateway's request log lines. */
  const logs: string[] = []

  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway(
      (request, response) => {
        void (async () => {
          let body = ''
          for await (const chunk of request) body += String(chunk)
          forwarded.push({ url: request.url ?? '', body })
          response.writeHead(200, { 'content-type': 'application/json' })
          response.end(
            JSON.stringify({
              id: 'x',
              type: 'message',
              data: [],
              input_tokens: 10,
              content: [{ type: 'text', text: 'ok' }],
              choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }],
              usage: USAGE,
            }),
          )
        })()
      },
      undefined,
      { log: (line) => logs.push(line) },
    ))
  })
  afterAll(() => close())
  beforeEach(() => {
    forwarded.length = 0
    logs.length = 0
  })

  let agents = 0
  async function agent(spendingCap = 1) {
    const handle = `hostile-${++agents}`
    const { credential } = await ks.agents.create({ handle, spendingCap })
    return { handle, credential }
  }
  function request(path: string, credential: string, init: RequestInit = {}) {
    return fetch(`${gateway.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${credential}`, ...(init.headers as object) },
    })
  }
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

  it.each([
    ['/v1/chat/completions', {}, '"messages":[{"role":"user","content":"hi"}]', 'gpt-4o'],
    ['/v1/messages', ANTHROPIC, '"max_tokens":10,"messages":[]', 'claude-sonnet-4-0'],
  ])(
    '%s: a body nested too deeply to serialise is 400, nothing held, spent or forwarded',
    async (path, headers, fields, model) => {
      // A cap the hold fits in, so nothing but the body's depth can refuse the call.
      const { handle, credential } = await agent(10)
      for (const depth of [10_000, 1_000_000]) {
        const body = `{"model":"${model}",${fields},"metadata":${nested(depth)}}`
        const response = await request(path, credential, { method: 'POST', headers, body })
        expect(response.status).toBe(400)
        expect(JSON.stringify(await response.json())).toContain('request body is nested too deeply')
      }
      expect(await ks.agents.get(handle)).toMatchObject({ spent: 0, held: 0 })
      expect(forwarded).toHaveLength(0)
    },
  )

  it('forwards a body nested within reason as the agent sent it, its output limit added', async () => {
    const { credential } = await agent()
    const body = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi "there"\n' }],
      metadata: JSON.parse(nested(40)),
      stream: false,
    }
    const response = await request('/v1/chat/completions', credential, {
      method: 'POST',
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(200)
    const sent = forwarded[0]?.body ?? ''
    const limit = (JSON.parse(sent) as { max_completion_tokens: number }).max_completion_tokens
    expect(limit).toBeGreaterThan(0)
    expect(sent).toBe(JSON.stringify({ ...body, max_completion_tokens: limit }))
  })

  const unknownCredential = `ks_${'A'.repeat(43)}`
  it.each<[string, string, Record<string, string>, string]>([
    ['invalid JSON', '/v1/chat/completions', {}, '{not json'],
    ['no model', '/v1/chat/completions', {}, JSON.stringify({ messages: [] })],
    [
      'a background response',
      '/v1/responses',
      {},
      JSON.stringify({ model: 'gpt-4o', input: 'hi', background: true }),
    ],
    [
      'a server tool',
      '/v1/messages',
      ANTHROPIC,
      JSON.stringify({
        model: 'claude-sonnet-4-0',
        max_tokens: 10,
        messages: [],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      }),
    ],
    ['invalid JSON to count_tokens', '/v1/messages/count_tokens', ANTHROPIC, '{not json'],
  ])(
    'a revoked or unknown credential with %s gets 401, the provider never called',
    async (_name, path, headers, body) => {
      const { handle, credential } = await agent()
      await ks.agents.revoke(handle, { reason: 'test' })
      for (const key of [credential, unknownCredential]) {
        const response = await request(path, key, { method: 'POST', headers, body })
        expect(response.status).toBe(401)
        await response.body?.cancel()
      }
      expect(forwarded).toHaveLength(0)
    },
  )

  it.each<[string, Record<string, string>, string, string]>([
    [
      '/v1/models',
      {},
      'api-key=CREDENTIAL&after=gpt-4o&limit=2&key=CREDENTIAL&after_id=x',
      '/v1/models?after=gpt-4o&limit=2',
    ],
    [
      '/v1/models',
      ANTHROPIC,
      'api-key=CREDENTIAL&after_id=a&before_id=b&limit=3&beta=true&lifecycle=retired&after=x',
      '/v1/models?after_id=a&before_id=b&limit=3&beta=true&lifecycle=retired',
    ],
    ['/v1/models/gpt-4o', {}, 'key=CREDENTIAL', '/v1/models/gpt-4o'],
  ])(
    'GET %s forwards only the query parameters the provider takes',
    async (path, headers, query, upstream) => {
      const { credential } = await agent()
      const response = await request(
        `${path}?${query.replaceAll('CREDENTIAL', credential)}`,
        credential,
        {
          headers,
        },
      )
      expect(response.status).toBe(200)
      expect(forwarded.map((call) => call.url)).toEqual([upstream])
    },
  )

  it('count_tokens forwards only the beta query parameter', async () => {
    const { credential } = await agent()
    const response = await request(
      `/v1/messages/count_tokens?beta=true&key=${credential}`,
      credential,
      {
        method: 'POST',
        headers: ANTHROPIC,
        body: JSON.stringify({ model: 'claude-sonnet-4-0', messages: [] }),
      },
    )
    expect(response.status).toBe(200)
    expect(forwarded.map((call) => call.url)).toEqual(['/v1/messages/count_tokens?beta=true'])
  })

  /** A GET sent as written: fetch would resolve `..` before the gateway saw it. */
  function rawGet(path: string, credential: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(gateway.port, '127.0.0.1', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${credential}\r\nConnection: close\r\n\r\n`,
        )
      })
      let answer = ''
      socket.on('data', (data) => {
        answer += String(data)
      })
      socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''))
      socket.on('error', reject)
    })
  }

  it('forwards a model id only when it is one, never an encoded path', async () => {
    const { credential } = await agent()
    for (const path of [
      '/v1/models/..%2ffiles',
      '/v1/models/x%2f..%2f..%2ffiles',
      '/v1/models/%2e%2e%2ffiles',
      '/v1/models/.env',
      '/v1/models/gpt-4o/',
    ]) {
      const response = await request(path, credential)
      expect(response.status, path).toBe(404)
      expect(await response.json()).toMatchObject({ error: { code: 'model_not_found' } })
    }
    for (const path of [
      '/v1/models/../files',
      '/v1/models/%2e%2e/files',
      '/v1/models/a/..%2ffiles',
    ]) {
      expect(await rawGet(path, credential), path).toMatch(/^HTTP\/1\.1 404 /)
    }
    expect(forwarded).toHaveLength(0)
    for (const model of ['gpt-4o', 'ft:gpt-4o-mini-2024-07-18:acme:custom_1:9abc', 'o1.5-mini']) {
      expect((await request(`/v1/models/${model}`, credential)).status).toBe(200)
    }
    expect(forwarded.map((call) => call.url)).toEqual([
      '/v1/models/gpt-4o',
      '/v1/models/ft:gpt-4o-mini-2024-07-18:acme:custom_1:9abc',
      '/v1/models/o1.5-mini',
    ])
  })

  it("another agent's credential as the model: never forwarded, masked in the log", async () => {
    const { handle, credential } = await agent()
    const { credential: stolen } = await agent()
    const chat = (model: string) =>
      request('/v1/chat/completions', credential, {
        method: 'POST',
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      })
    // No price for such a model: refused before anything is held.
    for (const model of [stolen, `gpt-4o ${stolen}`]) {
      const response = await chat(model)
      expect(response.status).toBe(422)
      expect(await response.text()).not.toContain(stolen)
    }
    // The model route: a typed 400 naming the field, in each API's shape.
    for (const headers of [{}, ANTHROPIC]) {
      const response = await request(`/v1/models/${stolen}`, credential, { headers })
      expect(response.status).toBe(400)
      const text = await response.text()
      expect(text).not.toContain(stolen)
      expect(text).toContain('kill switch credential')
      if (headers === ANTHROPIC) {
        expect(JSON.parse(text)).toMatchObject({ error: { type: 'invalid_request_error' } })
      } else {
        expect(JSON.parse(text)).toMatchObject({
          error: { code: 'invalid_request', param: 'model' },
        })
      }
    }
    expect(forwarded).toHaveLength(0)
    expect(await ks.agents.get(handle)).toMatchObject({ spent: 0, held: 0 })
    expect(logs).toHaveLength(4)
    expect(logs.join('\n')).not.toContain(stolen)
    expect(logs[0]).toContain(`agent=${handle} model=ks_[redacted] unknown_model_price`)
    expect(logs[2]).toContain('GET /v1/models/ks_[redacted] 400')
  })
})
