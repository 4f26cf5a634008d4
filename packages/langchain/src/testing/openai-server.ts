// Test support: a local HTTP server speaking the OpenAI chat completions wire format (JSON
// and server-sent events), for real provider clients such as ChatOpenAI. It generates on its
// own clock, as a real provider does, and keeps its own bill of what it generated, read or
// not. It stops when the client disconnects, unless told to ignore that. Or it answers as a
// test scripts it (`reply`: text and tool calls, for agents and structured outputs). Not
// exported.
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
  /** Generate `outputTokens` whatever max tokens the request asks for. */
  ignoresLimit?: boolean
  /** Stream the answer as DeepSeek's reasoning (`reasoning_content`), billed as output. */
  reasons?: boolean
  /** Refuse every request with this HTTP status and an OpenAI error body, billing nothing. */
  failStatus?: number
  /** With `failStatus`: refuse only the first this many requests, then answer. */
  failTimes?: number
  /** With `failStatus`: a refused request bills its input (a 500 may have run the model). */
  failBillsInput?: boolean
  /**
   * The answer to a request, scripted (text and tool calls, sent at once), billed
   * `outputTokens`; without it the server generates `outputTokens` words, one at a time.
   */
  reply?: (body: Record<string, unknown>) => ScriptedReply
}

/** A scripted answer: its text and the tool calls it asks for. */
export interface ScriptedReply {
  content?: string
  toolCalls?: Array<{ name: string; args: unknown }>
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
    if (options.failStatus !== undefined && requests.length <= (options.failTimes ?? Infinity)) {
      if (options.failBillsInput) bill += inputTokensOf(body, options) * options.inputMicros
      res.writeHead(options.failStatus, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'refused', type: 'test_error', code: null } }))
      onRequest()
      onStop('done')
      return
    }
    const inputTokens = inputTokensOf(body, options)
    if (options.reply !== undefined) {
      bill += inputTokens * options.inputMicros + options.outputTokens * options.outputMicros
      sendScripted(res, body, options.reply(body), { ...options, inputTokens })
      onRequest()
      onStop('done')
      return
    }
    const max = Number(body.max_completion_tokens ?? body.max_tokens ?? Infinity)
    const total = options.ignoresLimit ? options.outputTokens : Math.min(options.outputTokens, max)
    // Each of n choices is generated, and billed, in full (only the first is sent back).
    const choices = Math.max(1, Number(body.n ?? 1))
    const model = String(body.model)
    const stream = body.stream === true
    bill += inputTokens * options.inputMicros
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
              delta: {
                ...(out === 1 && { role: 'assistant' }),
                ...(options.reasons ? { reasoning_content: 'word ' } : { content: 'word ' }),
              },
              finish_reason: null,
            },
          ],
        })
      }
      await tick()
    }
    const usage = {
      prompt_tokens: inputTokens,
      completion_tokens: out * choices,
      total_tokens: inputTokens + out * choices,
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

let replies = 0

/** A scripted reply in the wire format: one JSON body, or its parts as server-sent events. */
function sendScripted(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: ScriptedReply,
  options: OpenAIServerOptions,
): void {
  const toolCalls = (reply.toolCalls ?? []).map(({ name, args }, index) => ({
    index,
    id: `call_${index}`,
    type: 'function',
    function: { name, arguments: JSON.stringify(args) },
  }))
  const content = reply.content ?? null
  const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop'
  const usage = {
    prompt_tokens: options.inputTokens,
    completion_tokens: options.outputTokens,
    total_tokens: options.inputTokens + options.outputTokens,
  }
  // An id of its own: an agent keeps its messages by id, one answer would replace another.
  const base = { id: `chatcmpl-${++replies}`, created: 1, model: String(body.model) }
  if (body.stream !== true) {
    const calls = toolCalls.map(({ index: _, ...call }) => call)
    const message = { role: 'assistant', content, ...(calls.length > 0 && { tool_calls: calls }) }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message, finish_reason: finish }],
        usage,
      }),
    )
    return
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  const chunk = (choices: unknown[], extra = {}) =>
    res.write(
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`,
    )
  chunk([{ index: 0, delta: { role: 'assistant', content: content ?? '' }, finish_reason: null }])
  if (toolCalls.length > 0)
    chunk([{ index: 0, delta: { tool_calls: toolCalls }, finish_reason: null }])
  chunk([{ index: 0, delta: {}, finish_reason: finish }])
  chunk([], { usage })
  res.end('data: [DONE]\n\n')
}

/**
 * The input tokens a request is billed: the configured count, or, for a longer prompt, about
 * what a real tokenizer makes of its messages' text (4 bytes a token), as a provider bills
 * it (the guard does not believe a count below what the text comes to).
 */
function inputTokensOf(body: Record<string, unknown>, options: OpenAIServerOptions): number {
  let bytes = 0
  for (const message of (body.messages as Array<{ content?: unknown }> | undefined) ?? []) {
    const content = message.content
    if (typeof content === 'string') bytes += Buffer.byteLength(content)
    else if (Array.isArray(content)) {
      for (const part of content as Array<{ text?: unknown }>) {
        if (typeof part.text === 'string') bytes += Buffer.byteLength(part.text)
      }
    }
  }
  return Math.max(options.inputTokens, Math.ceil(bytes / 4))
}
