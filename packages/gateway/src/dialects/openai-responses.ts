// POST /v1/responses. The output limit is `max_output_tokens` (reasoning included). Streams
// are typed events; every `*.delta` event carries produced output (text, tool arguments,
// reasoning), and the closing `response.completed` / `response.incomplete` /
// `response.failed` event carries the usage.
import type { TokenUsage } from '@killswitch/core'
import { openaiErrorObject } from '../api-errors.js'
import { sseEvent } from '../sse-parser.js'
import { type Dialect, parseJson, positiveInt, record, type StreamReader } from './dialect.js'
import { openaiUsage } from './openai-usage.js'
import { refuseBilledApart, refuseServerTools, refuseUnless } from './unbounded-requests.js'

// The tools the agent runs itself (computer use: the agent performs the actions and sends
// the screenshots back in its next request). Every other type (web_search*, file_search,
// mcp, code_interpreter, image_generation...) is refused.
const CLIENT_TOOLS = new Set([
  'function',
  'custom',
  'local_shell',
  'apply_patch',
  'computer_use_preview',
  'computer_use',
])

function outputText(response: Record<string, unknown> | undefined): string {
  let text = ''
  const items = Array.isArray(response?.output) ? response.output : []
  for (const item of items) {
    const entry = record(item)
    if (typeof entry?.arguments === 'string') text += entry.arguments
    const parts = Array.isArray(entry?.content) ? entry.content : []
    for (const part of parts) {
      const value = record(part)?.text
      if (typeof value === 'string') text += value
    }
  }
  return text
}

export const openaiResponses: Dialect = {
  family: 'openai',
  provider: 'openai',
  upstreamPath: '/responses',

  requestedOutputTokens(body) {
    return positiveInt(body, 'max_output_tokens')
  },

  refuseUnbounded(body) {
    refuseUnless(
      body,
      'background',
      [false],
      'a background response keeps running, and billing, at the provider after the gateway cuts its stream or the agent is revoked, so the gateway cannot stop or bound it. Leave background out (stream a long response instead).',
    )
    refuseBilledApart(body)
    refuseServerTools(
      body,
      (type) => type !== undefined && CLIENT_TOOLS.has(type),
      'Run it in the agent as a function tool.',
    )
  },

  prepare(body, maxOutputTokens) {
    return { ...body, max_output_tokens: maxOutputTokens }
  },

  usageOf(response) {
    return openaiUsage(record(response)?.usage)
  },

  textOf(response) {
    return outputText(record(response)) || undefined
  },

  streamReader(): StreamReader {
    let usage: TokenUsage | undefined
    return {
      read(event) {
        const data = parseJson(event.data)
        if (!data) return { forward: true }
        const type = typeof data.type === 'string' ? data.type : (event.event ?? '')
        const reported = openaiUsage(record(data.response)?.usage)
        if (reported) usage = reported
        const text = type.endsWith('.delta') && typeof data.delta === 'string' ? data.delta : ''
        return { text, forward: true }
      },
      usage: () => usage,
    }
  },

  streamError(error) {
    // As the Responses API reports a failed stream: an `error` event.
    const { message, code, param } = openaiErrorObject(error)
    return sseEvent({ type: 'error', code, message, param }, 'error')
  },
}
