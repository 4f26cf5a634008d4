// A provider whose usage reports less output than the agent received. Wherever that output
// reaches the agent (every choice of a chat completion, every string of a Responses item, a
// stream's events that repeat an item whole, an Anthropic stream's message_start), it is
// counted, so the lie is not believed: the ledger records the provider's own bill. The fake
// answers in " word" pieces, each one o200k token (gpt-4o's tokenizer, which the core counts
// with), and bills the 20 input tokens it reports and every token it produced.
import type { ServerResponse } from 'node:http'
import Anthropic from '@anthropic-ai/sdk'
import { type KillSwitch, toMicros } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from './start-gateway.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

const words = (tokens: number) => ' word'.repeat(tokens)
const INPUT_TOKENS = 20
/** The fake's bill for gpt-4o ($2.50 input, $10 output per million), in micro-dollars. */
const gpt4oBill = (outputTokens: number) => INPUT_TOKENS * 2.5 + outputTokens * 10

/** One SSE event as the OpenAI Responses API writes it. */
const responseEvent = (data: Record<string, unknown>) =>
  `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`

/** A Responses API response holding `output`, reporting a single output token. */
function lyingResponse(output: object[], status = 'completed') {
  return {
    id: 'resp_1',
    object: 'response',
    status,
    model: 'gpt-4o',
    output,
    usage: { input_tokens: INPUT_TOKENS, output_tokens: 1, total_tokens: INPUT_TOKENS + 1 },
  }
}

const message = (text: string) => ({
  type: 'message',
  id: 'msg_1',
  status: 'completed',
  role: 'assistant',
  content: [{ type: 'output_text', text, annotations: [] }],
})

describe('usage below the output the agent received', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  /** What the upstream answers next. */
  let answer: (response: ServerResponse) => void
  let handle = ''

  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway((request, response) => {
      void (async () => {
        for await (const _ of request) {
          // Drained.
        }
        answer(response)
      })()
    }))
  })
  afterAll(() => close())

  /** Posts `body` to `path` as a new agent; returns the agent's response text. */
  async function call(path: string, body: object) {
    handle = `under-reported-${path.replaceAll('/', '-')}-${Math.random().toString(36).slice(2)}`
    const { credential } = await ks.agents.create({ handle, spendingCap: 5 })
    const response = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${credential}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(200)
    return response.text()
  }
  const money = async () => {
    const snapshot = await ks.agents.get(handle)
    return { spent: toMicros(snapshot.spent), held: toMicros(snapshot.held) }
  }
  const json = (response: ServerResponse, body: object) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify(body))
  }
  const stream = (response: ServerResponse, events: string[]) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.end(events.join(''))
  }
  const respond = (body: object) =>
    call('/v1/responses', {
      model: 'gpt-4o',
      input: 'hi',
      max_output_tokens: 2000,
      tools: [{ type: 'custom', name: 'run' }],
      ...body,
    })

  it('chat with n choices, whole: every choice is counted, not only the first', async () => {
    answer = (response) =>
      json(response, {
        id: 'x',
        object: 'chat.completion',
        model: 'gpt-4o',
        choices: [
          { index: 0, message: { role: 'assistant', content: words(200) } },
          { index: 1, message: { role: 'assistant', content: words(150) } },
          { index: 2, message: { role: 'assistant', content: null, refusal: words(100) } },
        ],
        // One choice's output: the other two went unbilled on the ledger.
        usage: { prompt_tokens: INPUT_TOKENS, completion_tokens: 200, total_tokens: 220 },
      })
    await call('/v1/chat/completions', {
      model: 'gpt-4o',
      n: 3,
      max_completion_tokens: 1000,
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(await money()).toEqual({ spent: gpt4oBill(200 + 150 + 100), held: 0 })
  })

  it('Responses, whole: every string an item holds is counted, whatever its type', async () => {
    answer = (response) =>
      json(
        response,
        lyingResponse([
          // The name is output too: "run" is one token.
          {
            type: 'custom_tool_call',
            id: 'ctc_1',
            call_id: 'call_1',
            name: 'run',
            input: words(150),
          },
          {
            type: 'reasoning',
            id: 'rs_1',
            summary: [{ type: 'summary_text', text: words(100) }],
            // Opaque reasoning state, not text: not counted.
            encrypted_content: 'gAAAAABoZ2VuY3J5cHRlZHJlYXNvbmluZ3N0YXRl',
          },
          {
            type: 'message',
            id: 'msg_1',
            status: 'completed',
            role: 'assistant',
            content: [
              { type: 'refusal', refusal: words(120) },
              // logprobs repeat the text token by token: not counted twice.
              {
                type: 'output_text',
                text: words(80),
                annotations: [],
                logprobs: [{ token: ' word', logprob: -0.1, bytes: [32], top_logprobs: [] }],
              },
            ],
          },
          // An item type the gateway does not know of yet: its strings count all the same.
          { type: 'future_call', id: 'fc_1', payload: { text: words(50) } },
        ]),
      )
    await respond({})
    expect(await money()).toEqual({ spent: gpt4oBill(1 + 150 + 100 + 120 + 80 + 50), held: 0 })
  })

  /** A Responses stream of one message whose text is `text`, sent as `deltas` first. */
  function responseStream(text: string, deltas: string[]) {
    const done = message(text)
    return [
      responseEvent({
        type: 'response.created',
        response: { ...lyingResponse([], 'in_progress'), usage: null },
      }),
      responseEvent({
        type: 'response.output_item.added',
        output_index: 0,
        item: { ...done, content: [] },
      }),
      ...deltas.map((delta) =>
        responseEvent({
          type: 'response.output_text.delta',
          item_id: 'msg_1',
          output_index: 0,
          content_index: 0,
          delta,
          obfuscation: 'Xk2',
        }),
      ),
      responseEvent({
        type: 'response.output_text.done',
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        text,
      }),
      responseEvent({
        type: 'response.content_part.done',
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        part: done.content[0],
      }),
      responseEvent({ type: 'response.output_item.done', output_index: 0, item: done }),
    ]
  }

  it('a Responses stream with no deltas: the text sent whole is counted once', async () => {
    answer = (response) =>
      stream(response, [
        ...responseStream(words(300), []),
        responseEvent({
          type: 'response.completed',
          response: lyingResponse([message(words(300))]),
        }),
      ])
    const received = await respond({ stream: true })
    expect(received).toContain(words(300))
    expect(await money()).toEqual({ spent: gpt4oBill(300), held: 0 })
  })

  it('a Responses stream with part of its text in deltas: the rest, sent whole, is counted', async () => {
    answer = (response) =>
      stream(response, [
        ...responseStream(words(300), [words(100)]),
        responseEvent({
          type: 'response.completed',
          response: lyingResponse([message(words(300))]),
        }),
      ])
    await respond({ stream: true })
    expect(await money()).toEqual({ spent: gpt4oBill(300), held: 0 })
  })

  it('a Responses stream whose only copy of the text is the final response: counted', async () => {
    answer = (response) =>
      stream(response, [
        responseEvent({
          type: 'response.incomplete',
          response: lyingResponse([message(words(300))], 'incomplete'),
        }),
      ])
    await respond({ stream: true })
    expect(await money()).toEqual({ spent: gpt4oBill(300), held: 0 })
  })

  it('an honest Responses stream, deltas and whole repeats: its usage, nothing counted twice', async () => {
    const deltas = Array.from({ length: 30 }, () => words(10))
    answer = (response) =>
      stream(response, [
        ...responseStream(words(300), deltas),
        responseEvent({
          type: 'response.completed',
          response: {
            ...lyingResponse([message(words(300))]),
            usage: { input_tokens: INPUT_TOKENS, output_tokens: 300, total_tokens: 320 },
          },
        }),
      ])
    await respond({ stream: true })
    // Counted twice, 600 tokens would make the honest 300 look low, and be charged.
    expect(await money()).toEqual({ spent: gpt4oBill(300), held: 0 })
  })

  it('an honest Responses answer with citations: its usage, whole or streamed (annotations are not output)', async () => {
    const annotation = {
      type: 'url_citation',
      start_index: 0,
      end_index: 5,
      url: 'https://example.com/reports/quarterly-revenue-enterprise-tier-2026',
      title: 'Quarterly revenue report: the enterprise tier, the new pricing and the outlook',
    }
    const cited = {
      ...message(words(40)),
      content: [{ type: 'output_text', text: words(40), annotations: [annotation, annotation] }],
    }
    const honest = {
      ...lyingResponse([cited]),
      usage: { input_tokens: INPUT_TOKENS, output_tokens: 40, total_tokens: 60 },
    }
    answer = (response) => json(response, honest)
    await respond({})
    expect(await money()).toEqual({ spent: gpt4oBill(40), held: 0 })
    answer = (response) =>
      stream(response, [
        ...responseStream(words(40), [words(40)]),
        responseEvent({
          type: 'response.output_text.annotation.added',
          item_id: 'msg_1',
          output_index: 0,
          content_index: 0,
          annotation_index: 0,
          annotation,
        }),
        responseEvent({ type: 'response.completed', response: honest }),
      ])
    await respond({ stream: true })
    expect(await money()).toEqual({ spent: gpt4oBill(40), held: 0 })
  })

  it("an Anthropic stream whose text comes in message_start: counted, as the SDK's message shows it", async () => {
    const text = words(200)
    answer = (response) =>
      stream(response, [
        `event: message_start\ndata: ${JSON.stringify({
          type: 'message_start',
          message: {
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-0',
            content: [{ type: 'text', text }],
            stop_reason: null,
            usage: { input_tokens: INPUT_TOKENS, output_tokens: 1 },
          },
        })}\n\n`,
        `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1 } })}\n\n`,
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
      ])
    handle = 'under-reported-anthropic-start'
    const { credential } = await ks.agents.create({ handle, spendingCap: 5 })
    const client = new Anthropic({ baseURL: gateway.url, apiKey: credential, maxRetries: 0 })
    const final = await client.messages
      .stream({
        model: 'claude-sonnet-4-0',
        max_tokens: 1000,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .finalMessage()
    expect(final.content).toEqual([{ type: 'text', text }])
    // Claude's tokenizer is not public: output whose usage is not believed is charged its
    // UTF-8 bytes ($15 per million), which no tokenizer's count exceeds. The fake billed 200
    // tokens ($0.003); 20 input tokens at $3 per million on top.
    const spent = INPUT_TOKENS * 3 + Buffer.byteLength(text) * 15
    expect(spent).toBeGreaterThanOrEqual(INPUT_TOKENS * 3 + 200 * 15)
    expect(await money()).toEqual({ spent, held: 0 })
  })
})
