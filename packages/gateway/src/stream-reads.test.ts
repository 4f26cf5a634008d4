// A stream passes on whatever the upstream's network reads cut it into: an event split across
// reads, an event larger than a read, a read holding only what the agent is not sent (the
// usage chunk the gateway asked for itself). Each once stalled the stream: the read passed
// nothing on, the stream was never pulled again, the agent waited and the call stayed held.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type KillSwitch, toMicros } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from './start-gateway.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

const pause = () => new Promise((resolve) => setTimeout(resolve, 50))
const chatChunk = (choices: object[], extra: object = {}) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices, ...extra })}\n\n`
const content = (text: string) =>
  chatChunk([{ index: 0, delta: { content: text }, finish_reason: null }])
const usageChunk = chatChunk([], {
  usage: { prompt_tokens: 8, completion_tokens: 9, total_tokens: 17 },
})
const responsesEvent = (type: string, data: object) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`

/** How each test's upstream writes its stream. */
type Script = (response: ServerResponse, body: Record<string, unknown>) => Promise<void>

describe('a stream cut into reads anywhere', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  let script: Script = async () => {}

  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway(
      (request: IncomingMessage, response: ServerResponse) => {
        void (async () => {
          let raw = ''
          for await (const part of request) raw += part
          response.writeHead(200, { 'content-type': 'text/event-stream' })
          await script(response, JSON.parse(raw))
          response.end()
        })()
      },
    ))
  })
  afterAll(() => close())

  let agents = 0
  /** Streams `body` to `path` through the gateway; what the agent read, and its ledger. */
  async function streamed(path: string, body: object) {
    const handle = `stream-reads-${++agents}`
    const { credential } = await ks.agents.create({ handle, spendingCap: 5 })
    const response = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      // A stalled stream fails here, not at the test's timeout.
      signal: AbortSignal.timeout(5_000),
    })
    expect(response.status).toBe(200)
    const text = await response.text()
    const agent = await ks.agents.get(handle)
    return { text, held: toMicros(agent.held), spent: toMicros(agent.spent) }
  }
  const chat = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }

  it('passes on a first event, and a later one, split across two reads', async () => {
    script = async (response) => {
      const first = content('Hello')
      response.write(first.slice(0, 30))
      await pause()
      response.write(first.slice(30))
      await pause()
      const second = content(' world')
      response.write(second.slice(0, 40))
      await pause()
      response.write(second.slice(40) + usageChunk + 'data: [DONE]\n\n')
    }
    const { text, held, spent } = await streamed('/v1/chat/completions', chat)
    expect(text).toContain('"Hello"')
    expect(text).toContain('" world"')
    expect(text).toContain('[DONE]')
    // Settled on the usage: 8 input tokens at $2.50/M and 9 output at $10/M.
    expect({ held, spent }).toEqual({ held: 0, spent: 20 + 90 })
  })

  it('reads on past a read that holds only the usage chunk the agent did not ask for', async () => {
    script = async (response) => {
      response.write(content('Hello'))
      await pause()
      response.write(usageChunk)
      await pause()
      response.write('data: [DONE]\n\n')
    }
    const { text, held, spent } = await streamed('/v1/chat/completions', chat)
    expect(text).toContain('"Hello"')
    expect(text).not.toContain('prompt_tokens')
    expect(text).toContain('[DONE]')
    expect({ held, spent }).toEqual({ held: 0, spent: 20 + 90 })
  })

  it('passes on a first event of 200 KB (a Responses API response.created echoing its instructions)', async () => {
    script = async (response, body) => {
      const created = { id: 'resp_1', object: 'response', status: 'in_progress', model: 'gpt-4o' }
      const echoed = { ...created, instructions: body.instructions, output: [] }
      response.write(responsesEvent('response.created', { response: echoed }))
      await pause()
      response.write(responsesEvent('response.output_text.delta', { delta: 'Hi there' }))
      await pause()
      // Its instructions are 48,000 tokens (`You are helpful. ` is 4 in o200k).
      const usage = { input_tokens: 48_008, output_tokens: 9, total_tokens: 48_017 }
      response.write(
        responsesEvent('response.completed', {
          response: { ...created, status: 'completed', usage },
        }),
      )
    }
    const instructions = 'You are helpful. '.repeat(12_000)
    const { text, held, spent } = await streamed('/v1/responses', {
      model: 'gpt-4o',
      stream: true,
      instructions,
      input: 'hi',
      max_output_tokens: 100,
    })
    expect(text.length).toBeGreaterThan(instructions.length)
    expect(text).toContain('Hi there')
    expect(text).toContain('response.completed')
    expect({ held, spent }).toEqual({ held: 0, spent: 120_020 + 90 })
  })
})
