// A local stand-in for the OpenAI and Anthropic APIs, on node:http: it checks the provider
// key, answers in each API's wire format (whole or streamed), and keeps its own bill from
// the usage it reports, the way a provider bills. Tests compare the ledger with this bill.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  ANTHROPIC_USAGE,
  anthropicEnd,
  anthropicMessage,
  anthropicStart,
  chatChunk,
  chatCompletion,
  chatUsageChunk,
  EMBEDDING_USAGE,
  embeddings,
  type FakeUsage,
  modelList,
  OPENAI_USAGE,
  REPLY_PARTS,
  response,
} from './fake-wire.js'

/** Prices in dollars per million tokens, as a provider's price list says. */
export interface FakePrice {
  input: number
  output: number
  cacheRead?: number
  cacheWrite?: number
  reasoning?: number
}

/** One request the fake received. */
export interface UpstreamCall {
  method: string
  path: string
  body: Record<string, unknown> | undefined
  headers: IncomingMessage['headers']
  /** The client went away before the response was complete. */
  aborted: boolean
  completed: boolean
  billedMicros: number
}

export interface FakeUpstream {
  readonly url: string
  /** `${url}/v1`, as OPENAI_BASE_URL. */
  readonly openaiBaseURL: string
  /** `${url}`, as ANTHROPIC_BASE_URL. */
  readonly anthropicBaseURL: string
  readonly calls: UpstreamCall[]
  /** What the fake has billed, in micro-dollars. */
  billMicros(): number
  /**
   * When true, streams send their first delta and then wait until the client goes away; a
   * whole chat completion is never answered.
   */
  hang: boolean
  close(): Promise<void>
}

/** The model that makes the fake answer 500 with the key it received quoted (redaction). */
export const LEAKY_MODEL = 'leaky-error'

function micros(usage: FakeUsage, price: FakePrice): number {
  const rate = (dollars: number | undefined, fallback: number) =>
    Math.round((dollars ?? fallback) * 1_000_000)
  const picos =
    (usage.input - usage.cached - usage.cacheWrite) * rate(price.input, 0) +
    usage.cached * rate(price.cacheRead, price.input) +
    usage.cacheWrite * rate(price.cacheWrite, price.input) +
    (usage.output - usage.reasoning) * rate(price.output, 0) +
    usage.reasoning * rate(price.reasoning, price.output)
  return Math.ceil(picos / 1_000_000)
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined
}

/** Starts the fake providers on a free loopback port. */
export async function startFakeUpstream(options: {
  openaiKey: string
  anthropicKey: string
  prices: Record<string, FakePrice>
}): Promise<FakeUpstream> {
  const calls: UpstreamCall[] = []
  const state = { hang: false }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req)
    const call: UpstreamCall = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body,
      headers: req.headers,
      aborted: false,
      completed: false,
      billedMicros: 0,
    }
    calls.push(call)
    res.on('close', () => {
      if (!res.writableFinished) call.aborted = true
    })
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake' })
      res.end(JSON.stringify(value))
      call.completed = true
    }
    const model = typeof body?.model === 'string' ? body.model : 'gpt-4o'
    // Like a provider, it never produces more output than the request's limit allows.
    const limit = [body?.max_completion_tokens, body?.max_tokens, body?.max_output_tokens].find(
      (value): value is number => typeof value === 'number',
    )
    const within = (usage: FakeUsage): FakeUsage => {
      const output = Math.min(usage.output, limit ?? usage.output)
      return { ...usage, output, reasoning: Math.min(usage.reasoning, output) }
    }
    const bill = (usage: FakeUsage) => {
      const price = options.prices[model]
      if (!price) throw new Error(`fake upstream: no price for ${model}`)
      call.billedMicros = micros(usage, price)
    }
    const anthropic = call.path.startsWith('/v1/messages') || 'anthropic-version' in req.headers
    const key = anthropic
      ? req.headers['x-api-key']
      : req.headers.authorization?.replace(/^Bearer /, '')
    if (key !== (anthropic ? options.anthropicKey : options.openaiKey)) {
      // As the providers do, the refusal quotes the key it was given.
      return json(401, {
        error: {
          message: `Incorrect API key provided: ${String(key)}`,
          type: 'invalid_request_error',
        },
      })
    }
    if (model === LEAKY_MODEL) {
      return json(500, { error: { message: `internal error for key ${String(key)}` } })
    }
    const stream = body?.stream === true
    const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream' })
    const send = (data: unknown, event?: string) =>
      res.write(
        `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
      )
    // In hang mode the stream stops after its first delta until the client goes away.
    const hangs = () =>
      state.hang ? new Promise<boolean>((resolve) => res.on('close', () => resolve(true))) : false

    switch (`${call.method} ${call.path.split('?')[0]}`) {
      case 'GET /v1/models':
        return json(200, modelList())
      case 'POST /v1/embeddings': {
        const inputs = Array.isArray(body?.input) ? body.input.length : 1
        bill(EMBEDDING_USAGE)
        return json(
          200,
          embeddings(model, inputs, body?.encoding_format === 'base64', EMBEDDING_USAGE),
        )
      }
      case 'POST /v1/chat/completions': {
        // In hang mode a whole (not streamed) answer never comes.
        if (!stream && (await hangs())) return
        if (!stream) {
          bill(within(OPENAI_USAGE))
          return json(200, chatCompletion(model, within(OPENAI_USAGE)))
        }
        sse()
        send(chatChunk(model, { role: 'assistant', content: '' }))
        for (const [index, part] of REPLY_PARTS.entries()) {
          send(chatChunk(model, { content: part }))
          if (index === 0 && (await hangs())) return
        }
        send(chatChunk(model, {}, 'stop'))
        const options = body?.stream_options as { include_usage?: boolean } | undefined
        if (options?.include_usage) {
          bill(within(OPENAI_USAGE))
          send(chatUsageChunk(model, within(OPENAI_USAGE)))
        }
        send('[DONE]')
        res.end()
        call.completed = true
        return
      }
      case 'POST /v1/responses': {
        if (!stream) {
          bill(within(OPENAI_USAGE))
          return json(200, response(model, within(OPENAI_USAGE)))
        }
        sse()
        let sequence = 0
        const event = (type: string, fields: object) =>
          send({ type, sequence_number: sequence++, ...fields }, type)
        event('response.created', { response: response(model, null, 'in_progress') })
        const ids = { item_id: 'msg_fake', output_index: 0, content_index: 0 }
        for (const [index, part] of REPLY_PARTS.entries()) {
          event('response.output_text.delta', { ...ids, delta: part, logprobs: [] })
          if (index === 0 && (await hangs())) return
        }
        bill(within(OPENAI_USAGE))
        event('response.completed', { response: response(model, within(OPENAI_USAGE)) })
        res.end()
        call.completed = true
        return
      }
      case 'POST /v1/messages/count_tokens':
        return json(200, { input_tokens: 12 })
      case 'POST /v1/messages': {
        if (!stream) {
          bill(within(ANTHROPIC_USAGE))
          return json(200, anthropicMessage(model, within(ANTHROPIC_USAGE)))
        }
        sse()
        send(anthropicStart(model, within(ANTHROPIC_USAGE)), 'message_start')
        send(
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          'content_block_start',
        )
        send({ type: 'ping' }, 'ping')
        for (const [index, part] of REPLY_PARTS.entries()) {
          send(
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: part } },
            'content_block_delta',
          )
          if (index === 0 && (await hangs())) return
        }
        send({ type: 'content_block_stop', index: 0 }, 'content_block_stop')
        bill(within(ANTHROPIC_USAGE))
        send(anthropicEnd(within(ANTHROPIC_USAGE)), 'message_delta')
        send({ type: 'message_stop' }, 'message_stop')
        res.end()
        call.completed = true
        return
      }
      default:
        return json(404, { error: { message: `fake upstream: no route ${call.path}` } })
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: String(error) } }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    calls,
    billMicros: () => calls.reduce((sum, call) => sum + call.billedMicros, 0),
    get hang() {
      return state.hang
    },
    set hang(value: boolean) {
      state.hang = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
