// POST /v1/chat/completions. The output limit is `max_completion_tokens` (or the deprecated
// `max_tokens` when the caller used it) and covers each of the `n` choices, so the hold's
// tokens are shared out between them. Streams always ask for usage; the usage chunk is
// held back from an agent that did not ask for it, so its stream looks as it would upstream.
import type { TokenUsage } from '@killswitch/core'
import { openaiErrorObject } from '../api-errors.js'
import { sseEvent } from '../sse-parser.js'
import {
  type Dialect,
  type JsonBody,
  parseJson,
  positiveInt,
  record,
  type StreamReader,
} from './dialect.js'
import { openaiUsage } from './openai-usage.js'
import { refuseBilledApart, refuseSearchModel, refuseUnless } from './unbounded-requests.js'

function choices(body: JsonBody): number {
  return positiveInt(body, 'n') ?? 1
}

/** The strings under `keys` of `value`, joined. */
function strings(value: Record<string, unknown> | undefined, keys: readonly string[]): string {
  let text = ''
  for (const key of keys) {
    const field = value?.[key]
    if (typeof field === 'string') text += field
  }
  return text
}

/**
 * The output text of one streamed chunk or whole message: content, reasoning, tool calls
 * (and the legacy `function_call` of the `functions` API), the transcript of audio output.
 */
function outputText(message: Record<string, unknown> | undefined): string {
  if (!message) return ''
  let text = strings(message, ['content', 'refusal', 'reasoning_content', 'reasoning'])
  text += strings(record(message.function_call), ['name', 'arguments'])
  text += strings(record(message.audio), ['transcript'])
  const calls = message.tool_calls
  if (Array.isArray(calls)) {
    for (const call of calls) {
      text += strings(record(record(call)?.function), ['name', 'arguments'])
      text += strings(record(record(call)?.custom), ['name', 'input'])
    }
  }
  return text
}

/**
 * Audio output: its tokens are not text, and its base64 bytes say little of them. Counted as
 * text they would cut honest audio streams long before their limit; so the output is told
 * to the core as uncounted instead, and without the provider's usage it is charged the
 * call's output bound: never below what the provider can bill.
 */
function carriesAudio(message: Record<string, unknown> | undefined): boolean {
  const data = record(message?.audio)?.data
  return typeof data === 'string' && data.length > 0
}

export const openaiChat: Dialect = {
  family: 'openai',
  provider: 'openai',
  upstreamPath: '/chat/completions',

  requestedOutputTokens(body) {
    const own = positiveInt(body, 'max_completion_tokens') ?? positiveInt(body, 'max_tokens')
    return own === undefined ? undefined : own * choices(body)
  },

  asksMediaOutput(body) {
    return (
      (Array.isArray(body.modalities) && body.modalities.includes('audio')) || body.audio != null
    )
  },

  refuseUnbounded(body) {
    refuseBilledApart(body)
    refuseSearchModel(body)
    // The search models search the web themselves, billed per search.
    refuseUnless(
      body,
      'web_search_options',
      [],
      'the provider runs these web searches itself and bills each one, so the gateway cannot bound its cost. Search in the agent and pass the results in the messages.',
    )
  },

  prepare(body, maxOutputTokens, stream) {
    const n = choices(body)
    const perChoice = Math.floor(maxOutputTokens / n)
    if (perChoice < 1) {
      throw {
        status: 402,
        code: 'spending_cap_exceeded',
        message: `The budget pays for ${maxOutputTokens} output tokens, fewer than the ${n} choices asked for: ask for fewer choices (n).`,
      }
    }
    const sent: JsonBody = { ...body }
    // Keep the caller's field; a caller that set neither gets the current one.
    if (body.max_tokens !== undefined && body.max_tokens !== null) sent.max_tokens = perChoice
    if (
      body.max_tokens === undefined ||
      body.max_tokens === null ||
      'max_completion_tokens' in body
    )
      sent.max_completion_tokens = perChoice
    if (stream) sent.stream_options = { ...record(body.stream_options), include_usage: true }
    return sent
  },

  usageOf(response) {
    return openaiUsage(record(response)?.usage)
  },

  textOf(response) {
    // Every choice (`n` > 1) was produced and billed, as on the streamed path: counting only
    // the first let usage reporting one choice's output be believed for all of them.
    const list = record(response)?.choices
    if (!Array.isArray(list)) return undefined
    return list.map((choice) => outputText(record(record(choice)?.message))).join('') || undefined
  },

  streamReader(body): StreamReader {
    const wanted = record(body.stream_options)?.include_usage === true
    let usage: TokenUsage | undefined
    return {
      read(event) {
        if (event.data === '[DONE]') return { forward: true }
        const chunk = parseJson(event.data)
        if (!chunk) return { forward: true }
        const reported = openaiUsage(chunk.usage)
        if (reported) usage = reported
        const list = Array.isArray(chunk.choices) ? chunk.choices : []
        let text = ''
        let uncounted = false
        for (const choice of list) {
          const delta = record(record(choice)?.delta)
          text += outputText(delta)
          uncounted ||= carriesAudio(delta)
        }
        const usageOnly = reported !== undefined && list.length === 0
        return { text, forward: wanted || !usageOnly, ...(uncounted && { uncounted }) }
      },
      usage: () => usage,
    }
  },

  streamError(error) {
    // As OpenAI ends a chat stream that failed: a data line with an `error` object.
    return sseEvent({ error: openaiErrorObject(error) })
  },
}
