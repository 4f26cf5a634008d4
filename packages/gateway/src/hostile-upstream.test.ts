// A provider that answers badly after the request left: a body cut off mid-way, a body that
// is not JSON, usage that understates what it sent, a stream whose last event has no
// closing blank line. The money left in every case, so none may settle as free; and a request
// the gateway refuses before forwarding holds nothing. One that echoes the gateway's key back
// gets it masked in everything the agent receives. The upstream is a plain node:http
// server scripted per test; the hold is read while the request is in flight, from inside it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type KillSwitch, toMicros } from '@killswitch/core'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { RunningGateway } from './start-gateway.js'
import { failure } from './testing/failure.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

/** An OpenAI chat completion of gpt-4o answering `content`, reporting `usage`. */
function chatCompletion(
  content: string,
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number },
) {
  return {
    id: 'x',
    object: 'chat.completion',
    created: 0,
    model: 'gpt-4o',
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
    usage,
  }
}

type Script = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>

const REPLY = 'The quarterly report shows revenue up twelve percent on the new tier.'

describe('a provider that answers badly after the request left', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let script: Script
  const errors: unknown[] = []
  /** The agent's hold as the upstream saw it, while the request was in flight. */
  let heldInFlight: number | undefined
  let handle = ''

  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway(
      (request, response, ks) => {
        void (async () => {
          for await (const _ of request) {
            // The body is not needed: drained so the response can be written.
          }
          heldInFlight = toMicros((await ks.agents.get(handle)).held)
          await script(request, response)
        })()
      },
      (error) => errors.push(error),
    ))
  })
  afterAll(() => close())
  beforeEach(() => {
    heldInFlight = undefined
    errors.length = 0
  })

  async function agent(name: string) {
    handle = name
    const { credential } = await ks.agents.create({ handle: name, spendingCap: 5 })
    return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: credential, maxRetries: 0 })
  }
  const money = async () => {
    const snapshot = await ks.agents.get(handle)
    return { spent: toMicros(snapshot.spent), held: toMicros(snapshot.held) }
  }

  it('a body cut off half-way: 502 to the agent, the whole hold charged', async () => {
    const client = await agent('cut-body')
    script = (_request, response) => {
      const body = JSON.stringify({ id: 'x', choices: [{ message: { content: REPLY } }] })
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(body.length),
      })
      response.write(body.slice(0, 20))
      // The connection drops before the rest (and the usage) arrives.
      setTimeout(() => response.destroy(), 10)
    }
    const error = await failure<InstanceType<typeof OpenAI.APIError>>(
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    )
    expect(error.status).toBe(502)
    expect(error.code).toBe('upstream_failed')
    expect(heldInFlight).toBeGreaterThan(0)
    // Nothing is known of what it used: the request left, so the whole hold is spent.
    expect(await money()).toEqual({ spent: heldInFlight, held: 0 })
    expect(errors).toHaveLength(1)
  })

  it('a 200 whose body is not JSON: passed on, the whole hold charged', async () => {
    const client = await agent('not-json')
    script = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' })
      response.end('<html>proxy says hello</html>')
    }
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('<html>proxy says hello</html>')
    expect(heldInFlight).toBeGreaterThan(0)
    expect(await money()).toEqual({ spent: heldInFlight, held: 0 })
  })

  it('usage that reports no output for a full answer: settled above the lie, within the hold', async () => {
    const client = await agent('lying-usage')
    script = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify(
          chatCompletion(REPLY, { prompt_tokens: 12, completion_tokens: 0, total_tokens: 12 }),
        ),
      )
    }
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(completion.choices[0]?.message.content).toBe(REPLY)
    const { spent, held } = await money()
    expect(held).toBe(0)
    // What the usage claims: 12 input tokens at $2.50 per million, 30 micro-dollars. The
    // answer's text is at least a dozen tokens at $10 per million on top.
    expect(spent).toBeGreaterThanOrEqual(30 + 120)
    expect(spent).toBeLessThanOrEqual(heldInFlight ?? 0)
  })

  it("a stream whose last event has no closing blank line: that event's usage is settled", async () => {
    const client = await agent('unterminated-stream')
    script = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = (choices: object[], usage: object | null = null) =>
        `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o', choices, usage })}`
      const delta = { role: 'assistant', content: REPLY }
      response.write(`${chunk([{ index: 0, delta, finish_reason: null }])}\n\n`)
      // The usage chunk, then the connection closes without "\n\n" or [DONE].
      response.end(chunk([], { prompt_tokens: 400, completion_tokens: 300, total_tokens: 700 }))
    }
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    })
    let text = ''
    for await (const part of stream) text += part.choices[0]?.delta.content ?? ''
    expect(text).toBe(REPLY)
    // 400 input at $2.50 + 300 output at $10 per million tokens: exactly the provider's bill.
    expect(await money()).toEqual({ spent: 4_000, held: 0 })
  })
})

describe('a provider that redirects', () => {
  // Another origin (localhost, not 127.0.0.1): a followed redirect would carry the request
  // there, and undici re-sends `x-api-key` (the Anthropic key) cross-origin.
  const elsewhere: IncomingMessage[] = []
  const other = createServer((request, response) => {
    elsewhere.push(request)
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end('{"usage":{"input_tokens":1,"output_tokens":1},"data":[]}')
  })
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  let heldInFlight = 0
  let handle = ''

  beforeAll(async () => {
    await new Promise<void>((resolve) => other.listen(0, 'localhost', resolve))
    const target = `http://localhost:${(other.address() as AddressInfo).port}`
    ;({ ks, gateway, close } = await scriptedGateway((request, response, ks) => {
      void (async () => {
        for await (const _ of request) {
          // Drained.
        }
        if (handle) heldInFlight = toMicros((await ks.agents.get(handle)).held)
        response.writeHead(307, { location: `${target}${request.url}` })
        response.end()
      })()
    }))
  })
  afterAll(async () => {
    await close()
    other.closeAllConnections()
    await new Promise((resolve) => other.close(resolve))
  })

  // Nothing is known of what a redirected request used: charged the most it can cost, its
  // input bound and the 10 output tokens the provider was told, at the test's prices
  // (scriptedGateway), as unreconciled. Claude's input bound is 178 tokens: 178 x 3 + 10 x 15
  // = 534 + 150 = 684 micro-dollars, below its hold of 178 x 3 + 60 x 15 = 1,434 (Claude's
  // tokenizer is not at hand: its output count has 6x headroom, which no provider bills).
  // gpt-4o's is 167: 167 x 2.5 + 10 x 10 = 517.5, rounded up to 518, its hold (its tokenizer
  // is at hand: no headroom).
  it.each([
    ['/v1/messages', { model: 'claude-sonnet-4-0', max_tokens: 10 }, 'anthropic', 178, 684, 1_434],
    ['/v1/chat/completions', { model: 'gpt-4o', max_tokens: 10 }, 'openai', 167, 518, 518],
  ])(
    '%s: not followed, 502 upstream_redirected, the most it can cost charged as unreconciled',
    async (path, fields, family, inputBound, most, hold) => {
      handle = `redirected-${family}`
      const { credential } = await ks.agents.create({ handle, spendingCap: 1 })
      const response = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: {
          'x-api-key': credential,
          'content-type': 'application/json',
          ...(family === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {}),
        },
        body: JSON.stringify({ ...fields, messages: [{ role: 'user', content: 'hi' }] }),
      })
      expect(response.status).toBe(502)
      const answer = JSON.stringify(await response.json())
      expect(answer).toContain(family === 'openai' ? 'upstream_redirected' : 'redirect')
      expect(elsewhere).toHaveLength(0)
      // The request reached the provider: charged as any upstream error, never released.
      expect(heldInFlight).toBe(hold)
      const snapshot = await ks.agents.get(handle)
      expect({
        spent: toMicros(snapshot.spent),
        held: toMicros(snapshot.held),
        unreconciled: toMicros(snapshot.unreconciled),
      }).toEqual({ spent: most, held: 0, unreconciled: most })
      const settled = (await ks.audit(handle)).find((entry) => entry.type === 'settled')
      expect(settled?.summary).toContain(`no usage reported: up to ${inputBound} in, 10 out`)
    },
  )

  it('a route that spends nothing (models): not followed either, 502', async () => {
    handle = ''
    const { credential } = await ks.agents.create({ handle: 'redirected-free', spendingCap: 1 })
    const response = await fetch(`${gateway.url}/v1/models`, {
      headers: { authorization: `Bearer ${credential}` },
    })
    expect(response.status).toBe(502)
    expect(await response.json()).toMatchObject({ error: { code: 'upstream_redirected' } })
    expect(elsewhere).toHaveLength(0)
  })
})

describe('a request the gateway refuses before forwarding', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let forwarded = 0
  const lines: string[] = []
  let close: () => Promise<void>

  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway(
      (_request, response) => {
        forwarded += 1
        response.writeHead(500).end()
      },
      undefined,
      { maxBodyBytes: 4096, log: (line) => lines.push(line) },
    ))
  })
  afterAll(() => close())

  it.each([
    ['no model', '/v1/chat/completions', { messages: [] }, /model/],
    [
      'a streamed embedding',
      '/v1/embeddings',
      { model: 'text-embedding-3-small', input: 'x', stream: true },
      /streamed/,
    ],
  ])('%s: 400 naming the problem, nothing held or spent', async (name, path, body, message) => {
    const handle = `refused-${name.replaceAll(' ', '-')}`
    const { credential } = await ks.agents.create({ handle, spendingCap: 1 })
    const response = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(400)
    const answer = (await response.json()) as { error: { message: string } }
    expect(answer.error.message).toMatch(message)
    const snapshot = await ks.agents.get(handle)
    expect(snapshot).toMatchObject({ spent: 0, held: 0 })
    expect(forwarded).toBe(0)
  })

  it('counting tokens: a body past maxBodyBytes gets 413, and is not forwarded', async () => {
    const { credential } = await ks.agents.create({ handle: 'counter', spendingCap: 1 })
    const response = await fetch(`${gateway.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: {
        'x-api-key': credential,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-0',
        messages: [{ role: 'user', content: 'x'.repeat(8192) }],
      }),
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { type: 'request_too_large' } })
    expect(forwarded).toBe(0)
    // Logged, with the agent it came from.
    expect(lines.at(-1)).toMatch(/count_tokens 413 agent=counter request_too_large/)
  })

  it('a body past maxBodyBytes from a revoked or unknown credential gets 401, not 413', async () => {
    const { handle, credential } = await ks.agents.create({ handle: 'big-revoked', spendingCap: 1 })
    await ks.agents.revoke(handle)
    const body = JSON.stringify({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x'.repeat(8192) }],
    })
    for (const key of [credential, `ks_${'A'.repeat(43)}`, undefined]) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body,
      })
      expect(response.status).toBe(401)
      await response.body?.cancel()
    }
    expect(forwarded).toBe(0)
  })
})

describe('a provider that echoes the key it was sent', () => {
  // A debugging proxy that quotes the request's headers, a model server that reflects its
  // `authorization` into its output: the gateway's key must never reach the agent, in a 2xx
  // body, a stream, or a header. The upstream quotes whatever key header it received.
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  let script: (response: ServerResponse, echoed: string) => Promise<void>
  /** The upstream body's pieces as the gateway read them off the network. */
  const received: string[] = []
  let handle = ''

  beforeAll(async () => {
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      if (!response.body) return response
      const decoder = new TextDecoder()
      const recorder = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received.push(decoder.decode(chunk, { stream: true }))
          controller.enqueue(chunk)
        },
      })
      return new Response(response.body.pipeThrough(recorder), {
        status: response.status,
        headers: response.headers,
      })
    }
    ;({ ks, gateway, close } = await scriptedGateway(
      (request, response) => {
        void (async () => {
          for await (const _ of request) {
            // Drained.
          }
          await script(
            response,
            String(request.headers.authorization ?? request.headers['x-api-key']),
          )
        })()
      },
      undefined,
      { fetch: recordingFetch },
    ))
  })
  afterAll(() => close())
  beforeEach(() => {
    received.length = 0
  })

  const DIALECTS = {
    openai: {
      path: '/v1/chat/completions',
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
      headers: (credential: string) => ({ authorization: `Bearer ${credential}` }),
      /** The key inside the echoed header value. */
      key: (echoed: string) => echoed.replace(/^Bearer /, ''),
      json: (text: string) =>
        chatCompletion(text, { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 }),
      // 10 input tokens at $2.50 and 20 output at $10 per million, in micro-dollars.
      cost: 225,
      start: '',
      delta: (text: string) =>
        `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [{ index: 0, delta: { content: text } }] })}\n\n`,
      end: `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } })}\n\ndata: [DONE]\n\n`,
      textOf: (data: unknown) =>
        (data as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ??
        '',
    },
    anthropic: {
      path: '/v1/messages',
      body: {
        model: 'claude-sonnet-4-0',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hi' }],
      },
      headers: (credential: string) => ({
        'x-api-key': credential,
        'anthropic-version': '2023-06-01',
      }),
      key: (echoed: string) => echoed,
      json: (text: string) => ({
        id: 'msg_x',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-0',
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 10, output_tokens: 20 },
      }),
      // 10 input tokens at $3 and 20 output at $15 per million, in micro-dollars.
      cost: 330,
      start: `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_x', type: 'message', role: 'assistant', model: 'claude-sonnet-4-0', content: [], usage: { input_tokens: 10, output_tokens: 1 } } })}\n\n`,
      delta: (text: string) =>
        `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })}\n\n`,
      end: `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 20 } })}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`,
      textOf: (data: unknown) => {
        const event = data as { type?: string; delta?: { text?: string } }
        return event.type === 'content_block_delta' ? (event.delta?.text ?? '') : ''
      },
    },
  } as const

  async function call(family: keyof typeof DIALECTS, stream: boolean) {
    const dialect = DIALECTS[family]
    handle = `echo-${family}-${stream ? 'stream' : 'json'}`
    const { credential } = await ks.agents.create({ handle, spendingCap: 5 })
    return fetch(`${gateway.url}${dialect.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...dialect.headers(credential) },
      body: JSON.stringify({ ...dialect.body, ...(stream ? { stream: true } : {}) }),
    })
  }
  const spent = async () => toMicros((await ks.agents.get(handle)).spent)

  it.each(['openai', 'anthropic'] as const)(
    '%s, a 2xx JSON answer and its request id quoting the key: both redacted, charged as sent',
    async (family) => {
      const dialect = DIALECTS[family]
      let key = ''
      script = async (response, echoed) => {
        key = dialect.key(echoed)
        response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': echoed })
        response.end(JSON.stringify(dialect.json(`You sent me ${echoed}, thanks.`)))
      }
      const response = await call(family, false)
      expect(response.status).toBe(200)
      const text = await response.text()
      expect(key.length).toBeGreaterThan(5)
      expect(received.join('')).toContain(key)
      expect(text).not.toContain(key)
      expect(text).toContain('[redacted], thanks.')
      expect(response.headers.get('x-request-id')).not.toContain(key)
      expect(response.headers.get('x-request-id')).toContain('[redacted]')
      // Settled on the provider's usage, as without the echo.
      expect(await spent()).toBe(dialect.cost)
    },
  )

  it('a free route (the model list) quoting the key in its body and content type: both redacted', async () => {
    let echoedKey = ''
    script = async (response, echoed) => {
      echoedKey = echoed
      response.writeHead(200, { 'content-type': `application/json; note=${echoed}` })
      response.end(JSON.stringify({ object: 'list', data: [], note: echoed }))
    }
    const { credential } = await ks.agents.create({ handle: 'echo-free-route', spendingCap: 5 })
    const response = await fetch(`${gateway.url}/v1/models`, {
      headers: { authorization: `Bearer ${credential}` },
    })
    expect(response.status).toBe(200)
    expect(echoedKey).toContain('sk-unused')
    const text = await response.text()
    expect(text).not.toContain('sk-unused')
    expect(text).toContain('[redacted]')
    expect(response.headers.get('content-type')).not.toContain('sk-unused')
    expect(response.headers.get('content-type')).toContain('[redacted]')
  })

  it.each(['openai', 'anthropic'] as const)(
    '%s, a stream quoting the key split across network chunks: redacted, each event passed on at once',
    async (family) => {
      const dialect = DIALECTS[family]
      let key = ''
      let agentSawFirst: () => void = () => {}
      const sawFirst = new Promise<boolean>((resolve) => {
        agentSawFirst = () => resolve(true)
      })
      /** Whether the agent had the first event before the upstream sent the next. */
      let passedOnAtOnce = false
      const pause = () => new Promise((resolve) => setTimeout(resolve, 30))
      script = async (response, echoed) => {
        key = dialect.key(echoed)
        response.writeHead(200, { 'content-type': 'text/event-stream' })
        response.write(dialect.start + dialect.delta('Hello.'))
        passedOnAtOnce = await Promise.race([
          sawFirst,
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000)),
        ])
        // The event quoting the key, cut in the middle of the key.
        const event = dialect.delta(` You sent me ${echoed}, keep it safe.`)
        const middle = event.indexOf(key) + Math.floor(key.length / 2)
        response.write(event.slice(0, middle))
        await pause()
        response.write(event.slice(middle))
        await pause()
        response.end(dialect.delta(' Goodbye.') + dialect.end)
      }
      const response = await call(family, true)
      expect(response.status).toBe(200)
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let raw = ''
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        raw += decoder.decode(value, { stream: true })
        // The whole event, closing blank line included: the agent can act on it now.
        if (raw.includes(dialect.delta('Hello.'))) agentSawFirst()
      }
      expect(passedOnAtOnce).toBe(true)
      // The split was real: the gateway read a piece that ended inside the key.
      const half = key.slice(0, Math.floor(key.length / 2))
      expect(received.some((piece) => piece.endsWith(half))).toBe(true)
      expect(raw).not.toContain(key)
      const text = raw
        .split('\n')
        .filter((line) => line.startsWith('data: {'))
        .map((line) => dialect.textOf(JSON.parse(line.slice(6))))
        .join('')
      const prefix = family === 'openai' ? 'Bearer ' : ''
      expect(text).toBe(`Hello. You sent me ${prefix}[redacted], keep it safe. Goodbye.`)
      expect(await spent()).toBe(dialect.cost)
    },
  )

  // A key read from a secret file that ends in a newline: fetch sends it trimmed, so the
  // trimmed key is the one an upstream echoes, and the one that must be masked.
  const OPENAI_KEY = 'sk-proj-SpacedOpenaiKEY0123456789'
  const ANTHROPIC_KEY = 'sk-ant-api03-SpacedAnthropicKEY0123456789'
  it.each([
    ['a trailing newline', (key: string) => `${key}\n`],
    ['a trailing tab', (key: string) => `${key}\t`],
    ['a leading space', (key: string) => ` ${key}`],
  ])(
    'a key configured with %s: sent trimmed, masked in error bodies, headers, the model list and streams',
    async (_, spaced) => {
      const echoed: string[] = []
      const spacedGateway = await scriptedGateway(
        (request, response) => {
          void (async () => {
            let body = ''
            for await (const chunk of request) body += String(chunk)
            const key = String(request.headers.authorization ?? request.headers['x-api-key'])
            echoed.push(key)
            const dialect = DIALECTS[request.url === '/v1/messages' ? 'anthropic' : 'openai']
            if (request.url === '/v1/models') {
              response.writeHead(200, { 'content-type': 'application/json' })
              response.end(JSON.stringify({ object: 'list', data: [], debug: key }))
            } else if (JSON.parse(body).stream === true) {
              response.writeHead(200, { 'content-type': 'text/event-stream' })
              response.end(dialect.start + dialect.delta(`You sent me ${key}.`) + dialect.end)
            } else {
              response.writeHead(400, { 'content-type': 'application/json', 'x-request-id': key })
              response.end(JSON.stringify({ error: { message: `Bad request for ${key}` } }))
            }
          })()
        },
        undefined,
        {
          openai: { apiKey: spaced(OPENAI_KEY) },
          anthropic: { apiKey: spaced(ANTHROPIC_KEY) },
        },
      )
      try {
        const { ks, gateway } = spacedGateway
        const { credential } = await ks.agents.create({ handle: 'spaced', spendingCap: 5 })
        /** Everything the agent received: status, headers and body of each answer. */
        const seen: string[] = []
        const send = async (path: string, init: RequestInit, headers: Record<string, string>) => {
          const response = await fetch(`${gateway.url}${path}`, { ...init, headers })
          seen.push(
            `${response.status} ${JSON.stringify([...response.headers])} ${await response.text()}`,
          )
        }
        for (const family of ['openai', 'anthropic'] as const) {
          const dialect = DIALECTS[family]
          const headers = { 'content-type': 'application/json', ...dialect.headers(credential) }
          for (const stream of [false, true]) {
            const body = JSON.stringify({ ...dialect.body, ...(stream ? { stream } : {}) })
            await send(dialect.path, { method: 'POST', body }, headers)
          }
          await send('/v1/models', {}, headers)
        }
        // The provider got the trimmed keys, and echoed them in every answer.
        expect(echoed).toEqual([
          ...Array(3).fill(`Bearer ${OPENAI_KEY}`),
          ANTHROPIC_KEY,
          ANTHROPIC_KEY,
          ANTHROPIC_KEY,
        ])
        expect(seen.map((answer) => answer.slice(0, 3))).toEqual([
          '400',
          '200',
          '200',
          '400',
          '200',
          '200',
        ])
        for (const answer of seen) {
          expect(answer).not.toContain(OPENAI_KEY)
          expect(answer).not.toContain(ANTHROPIC_KEY)
          expect(answer).toContain('[redacted]')
        }
        // The 400s were released; the streams settled on the provider's usage.
        const spent = toMicros((await ks.agents.get('spaced')).spent)
        expect(spent).toBe(DIALECTS.openai.cost + DIALECTS.anthropic.cost)
      } finally {
        await spacedGateway.close()
      }
    },
  )
})
