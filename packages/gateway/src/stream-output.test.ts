// What a chat stream's output is charged when the provider's usage never comes (a stream cut,
// or one that ends without its usage chunk): every kind of output that streamed is counted
// (the legacy `function_call` of the functions API, audio transcripts, as tool calls and
// content are), and audio, which cannot be counted, is charged at the limit the provider was
// told. A cut stream's log line says how it ended.
import type { ServerResponse } from 'node:http'
import { type KillSwitch, toMicros } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from './start-gateway.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

type Delta = Record<string, unknown>

const PIECES = Array.from({ length: 60 }, (_, i) => ` "field_${i}": "value number ${i}",`)

describe('chat stream output without the provider usage', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  const logs: string[] = []
  /** The deltas the upstream streams, then whether it sends usage (else it just ends). */
  let deltas: Delta[] = []
  let usage: object | undefined
  /** Set: the upstream keeps streaming until the gateway hangs up. */
  let endless = false
  let heldInFlight = 0
  let handle = ''

  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway(
      (request, response, ks) => {
        void (async () => {
          for await (const _ of request) {
            // Drained.
          }
          heldInFlight = toMicros((await ks.agents.get(handle)).held)
          await stream(response)
        })()
      },
      undefined,
      { log: (line) => logs.push(line) },
    ))
  })
  afterAll(() => close())

  async function stream(response: ServerResponse) {
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    const chunk = (choices: object[], extra: object = {}) =>
      response.write(
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices, ...extra })}\n\n`,
      )
    const delta = (value: Delta) => chunk([{ index: 0, delta: value, finish_reason: null }])
    let closed = false
    response.on('close', () => {
      closed = true
    })
    for (const value of deltas) delta(value)
    while (endless && !closed) {
      delta({ content: ' more' })
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    if (closed) return
    if (usage) chunk([], { usage })
    response.end('data: [DONE]\n\n')
  }

  let agents = 0
  async function spentOn(streamed: Delta[], withUsage?: object) {
    handle = `stream-output-${++agents}`
    deltas = streamed
    usage = withUsage
    const { credential } = await ks.agents.create({ handle, spendingCap: 5 })
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        stream: true,
        max_completion_tokens: 4000,
        messages: [{ role: 'user', content: 'call it' }],
      }),
    })
    expect(response.status).toBe(200)
    await response.text()
    const snapshot = await ks.agents.get(handle)
    expect(snapshot.held).toBe(0)
    return toMicros(snapshot.spent)
  }

  it('counts legacy function_call deltas as it counts tool_calls deltas', async () => {
    const toolCalls = await spentOn([
      { role: 'assistant', content: 'Ok' },
      { tool_calls: [{ index: 0, function: { name: 'lookup', arguments: '' } }] },
      ...PIECES.map((piece) => ({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
    ])
    const functionCall = await spentOn([
      { role: 'assistant', content: 'Ok' },
      { function_call: { name: 'lookup', arguments: '' } },
      ...PIECES.map((piece) => ({ function_call: { arguments: piece } })),
    ])
    const contentOnly = await spentOn([{ role: 'assistant', content: 'Ok' }])
    expect(toolCalls).toBeGreaterThan(contentOnly)
    expect(functionCall).toBe(toolCalls)
  })

  it('counts audio transcript deltas as it counts content', async () => {
    const content = await spentOn(PIECES.map((piece) => ({ content: piece })))
    const transcript = await spentOn(
      PIECES.map((piece, i) => ({
        audio: i === 0 ? { id: 'a', transcript: piece } : { transcript: piece },
      })),
    )
    expect(transcript).toBe(content)
  })

  it('audio output without usage is charged the whole hold; with usage, the usage', async () => {
    const audio = [
      { role: 'assistant', content: 'Ok' },
      ...PIECES.map((piece) => ({
        audio: { id: 'a', transcript: piece, data: 'UklGRiQAAABXQVZF' },
      })),
    ]
    const withoutUsage = await spentOn(audio)
    expect(heldInFlight).toBeGreaterThan(0)
    expect(withoutUsage).toBe(heldInFlight)
    // 100 input tokens at $2.50 and 1,500 output at $10 per million: the provider's bill.
    const reported = { prompt_tokens: 100, completion_tokens: 1_500, total_tokens: 1_600 }
    expect(await spentOn(audio, reported)).toBe(15_250)
  })

  it('a stream cut by revocation logs its outcome', async () => {
    handle = 'stream-cut'
    deltas = [{ role: 'assistant', content: 'Ok' }]
    endless = true
    const { credential } = await ks.agents.create({ handle, spendingCap: 5 })
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-4o',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      })
      const reader = response.body?.getReader()
      await reader?.read()
      logs.length = 0
      await ks.agents.revoke(handle, { reason: 'test' })
      let text = ''
      const decoder = new TextDecoder()
      for (;;) {
        const part = await reader?.read()
        if (!part || part.done) break
        text += decoder.decode(part.value)
      }
      expect(text).toContain('agent_revoked')
    } finally {
      endless = false
    }
    const line = logs.find((entry) => entry.includes('/v1/chat/completions'))
    expect(line).toMatch(/ stream cut: agent_revoked /)
  })
})
