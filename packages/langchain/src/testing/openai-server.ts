// Test support: a local HTTP server speaking the OpenAI chat completions wire format (JSON
// and server-sent events), for real provider clients such as ChatOpenAI. It generates on its
// own clock, as a real provider does, and keeps its own bill of what it generated, read or
// not. It stops when the client disconnects, unless told to ignore that. Not exported.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OpenAIServerOptions {
  /** Input tokens billed per request. */
  inputTokens: number
  /** Output tokens of a whole answer (capped by the request's max tokens). */
  outputTokens: number
  /** Micro-dollars per input and per output token. */
  inputMicros: number
  outputMicros: number
  /** Milliseconds between two generated tokens (0: as fast as the event loop allows). */
  tokenEveryMs?: number
  /** Keep generating, and billing, after the client disconnected. */
  ignoresDisconnect?: boolean
  /** Refuse every request with this HTTP status and an OpenAI error body, billing nothing. */
  failStatus?: number
}

export interface OpenAIServer {
  /** The base URL to give the client (`configuration: { baseURL }`). */
  baseURL: string
  /** What the server billed, in micro-dollars. */
  billMicros(): number
  /** The request bodies received. */
  requests: Array<Record<string, unknown>>
  /** Resolves when the next request arrives. */
  nextRequest(): Promise<void>
  /** Resolves when the last request stopped generating. */
  stopped(): Promise<'disconnected' | 'done'>
  close(): Promise<void>
}

export async function openAIServer(options: OpenAIServerOptions): Promise<OpenAIServer> {
  let bill = 0
  const requests: Array<Record<string, unknown>> = []
  let onRequest = () => {}
  let arrived = new Promise<void>((resolve) => {
    onRequest = resolve
  })
  let onStop: (how: 'disconnected' | 'done') => void = () => {}
  let stopped = new Promise<'disconnected' | 'done'>((resolve) => {
    onStop = resolve
  })
  const tick = () =>
    new Promise<void>((resolve) => {
      if (options.tokenEveryMs) setTimeout(resolve, options.tokenEveryMs)
      else setImmediate(resolve)
    })

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = JSON.parse(raw) as Record<string, unknown>
    requests.push(body)
    stopped = new Promise((resolve) => {
      onStop = resolve
    })
    let gone = false
    res.on('close', () => {
      if (!res.writableFinished) gone = true
    })
    if (options.failStatus !== undefined) {
      res.writeHead(options.failStatus, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'refused', type: 'test_error', code: null } }))
      onRequest()
      onStop('done')
      return
    }
    const max = Number(body.max_completion_tokens ?? body.max_tokens ?? Infinity)
    const total = Math.min(options.outputTokens, max)
    // Each of n choices is generated, and billed, in full (only the first is sent back).
    const choices = Math.max(1, Number(body.n ?? 1))
    const model = String(body.model)
    const stream = body.stream === true
    bill += options.inputTokens * options.inputMicros
    const resolveArrival = onRequest
    arrived = new Promise((resolve) => {
      onRequest = resolve
    })
    resolveArrival()
    const base = { id: 'chatcmpl-test', created: 1, model }
    if (stream) res.writeHead(200, { 'content-type': 'text/event-stream' })
    const send = (data: unknown) => {
      if (!gone) res.write(`data: ${JSON.stringify(data)}\n\n`)
    }
    let out = 0
    while (out < total) {
      if (gone && !options.ignoresDisconnect) {
        onStop('disconnected')
        return
      }
      out++
      bill += options.outputMicros * choices
      if (stream) {
        send({
          ...base,
          object: 'chat.completion.chunk',
          // OpenAI names the role in the first delta only.
          choices: [
            {
              index: 0,
              delta: out === 1 ? { role: 'assistant', content: 'word ' } : { content: 'word ' },
              finish_reason: null,
            },
          ],
        })
      }
      await tick()
    }
    const usage = {
      prompt_tokens: options.inputTokens,
      completion_tokens: out * choices,
      total_tokens: options.inputTokens + out * choices,
    }
    if (stream) {
      send({
        ...base,
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      })
      send({ ...base, object: 'chat.completion.chunk', choices: [], usage })
      if (!gone) res.end('data: [DONE]\n\n')
    } else if (!gone) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'word '.repeat(out) },
              finish_reason: 'stop',
            },
          ],
          usage,
        }),
      )
    }
    // Generated the whole answer, whether or not the client was still there to read it.
    onStop('done')
  }

  const server = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    billMicros: () => bill,
    requests,
    nextRequest: () => arrived,
    stopped: () => stopped,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
