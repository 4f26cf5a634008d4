// Test support: a local HTTP server speaking the OpenAI chat completions and Anthropic
// messages wire formats to the real provider clients (@ai-sdk/openai, @ai-sdk/anthropic). Like
// a provider it generates, and bills, up to the output limit it receives (a reasoning model
// thinks up to its limit): max_completion_tokens, else max_tokens (Anthropic's max_tokens
// counts thinking). It records every request body. Not exported.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface WireServer {
  /** The base URL to give the client (`createOpenAI({ baseURL })`). */
  baseURL: string
  /** The request bodies received. */
  requests: Array<Record<string, unknown>>
  /** The output limit of each request: what the provider was allowed to generate. */
  limits(): number[]
  /** Output tokens billed. */
  billedOutput(): number
  close(): Promise<void>
}

/** Output tokens generated when a request sets no limit (a model's own maximum). */
const UNBOUNDED = 50_000

export async function wireServer(): Promise<WireServer> {
  const requests: Array<Record<string, unknown>> = []
  let billed = 0
  const limitOf = (body: Record<string, unknown>) =>
    Number(body.max_completion_tokens ?? body.max_tokens ?? UNBOUNDED)
  const server = createServer(async (req, res) => {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = JSON.parse(raw) as Record<string, unknown>
    requests.push(body)
    const out = limitOf(body)
    billed += out
    const usage = { prompt_tokens: 20, completion_tokens: out, total_tokens: 20 + out }
    const base = { id: 'c1', created: 1, model: body.model }
    if (req.url?.endsWith('/messages')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [{ type: 'text', text: 'hi' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 20, output_tokens: out },
        }),
      )
    } else if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const send = (data: object) => res.write(`data: ${JSON.stringify(data)}\n\n`)
      const chunk = { ...base, object: 'chat.completion.chunk' }
      send({ ...chunk, choices: [{ index: 0, delta: { role: 'assistant', content: 'hi' } }] })
      send({ ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
      send({ ...chunk, choices: [], usage })
      res.end('data: [DONE]\n\n')
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            { index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' },
          ],
          usage,
        }),
      )
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    limits: () => requests.map(limitOf),
    billedOutput: () => billed,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
