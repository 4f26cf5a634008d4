// POST /v1/responses. The output limit is `max_output_tokens` (reasoning included). Streams
// are typed events; `*.delta` events carry produced output (text, tool arguments,
// reasoning) piece by piece, `*.done` events and the closing `response.completed` /
// `response.incomplete` / `response.failed` (which carries the usage) repeat it whole.
//
// What is counted: every string of `output[]` the agent receives (see `receivedText`), so
// no item type, present or future, goes uncounted. A stream is counted by its deltas, and
// any event that shows an output item (or one of its parts) whole counts what it shows
// beyond what was already counted for that item: an honest stream's repeats count nothing
// more, and one that sends its output only whole is counted all the same.
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

// Strings of an output item that are not output the model produced: identifiers and enums
// the API fills in (`id`, `type`, `status`, `role`, and every `*_id`: `call_id`, `item_id`),
// `logprobs` (the text again, token by token: counted, honest usage would look low),
// `annotations` (citations the API adds, a URL and a title each: not billed as output; red
// team r19, an honest answer with one citation charged 1.8x when streamed),
// `encrypted_content` (opaque reasoning state, not text) and a stream's random
// `obfuscation` padding. Every other string is counted, names included.
const NOT_OUTPUT = new Set([
  'id',
  'type',
  'status',
  'role',
  'logprobs',
  'annotations',
  'annotation',
  'encrypted_content',
  'obfuscation',
])

/**
 * Every string under `value` but those of NOT_OUTPUT keys, joined in order. Iterative: an
 * upstream's deeply nested JSON cannot overflow the stack and leave the call unsettled.
 */
function receivedText(value: unknown): string {
  const parts: string[] = []
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const next = stack.pop()
    if (typeof next === 'string') parts.push(next)
    else if (Array.isArray(next)) for (let i = next.length - 1; i >= 0; i--) stack.push(next[i])
    else if (typeof next === 'object' && next !== null) {
      const fields = Object.entries(next)
      for (let i = fields.length - 1; i >= 0; i--) {
        const [key, field] = fields[i] as [string, unknown]
        if (!NOT_OUTPUT.has(key) && !key.endsWith('_id')) stack.push(field)
      }
    }
  }
  return parts.join('')
}

/** What a stream showed of one output item, in characters. */
interface ItemShown {
  /** Counted: its deltas, and what events that show it whole showed beyond them. */
  counted: number
  /** The most an event showed of the item whole (`output_item.*`, `response.output`). */
  whole: number
  /** The most an event showed of each part (`output_text.done`, `content_part.*`...). */
  parts: Map<string, number>
  /** Their sum. */
  partsTotal: number
}

/** A whole number (`output_index`, `content_index`), else undefined. */
function index(value: unknown): number | undefined {
  return Number.isSafeInteger(value) ? (value as number) : undefined
}

/** The part an event is about, when it is about one part of an item. */
function partOf(data: Record<string, unknown>): string | undefined {
  const content = index(data.content_index)
  if (content !== undefined) return `c${content}`
  const summary = index(data.summary_index)
  return summary === undefined ? undefined : `s${summary}`
}

/**
 * Records that an event showed `text` as `item` whole (or as its part `part`), and returns
 * what it showed beyond what was counted for the item: the longer of the item whole and the
 * sum of its parts, past what was counted. Only `text` grew, so that excess is its tail.
 */
function beyondCounted(item: ItemShown, text: string, part: string | undefined): string {
  if (part === undefined) item.whole = Math.max(item.whole, text.length)
  else {
    const before = item.parts.get(part) ?? 0
    if (text.length > before) {
      item.parts.set(part, text.length)
      item.partsTotal += text.length - before
    }
  }
  const excess = Math.max(item.whole, item.partsTotal) - item.counted
  if (excess <= 0) return ''
  item.counted += excess
  return text.slice(text.length - excess)
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
    return receivedText(record(response)?.output) || undefined
  },

  streamReader(): StreamReader {
    let usage: TokenUsage | undefined
    const items = new Map<number, ItemShown>()
    const item = (at: number) => {
      let shown = items.get(at)
      if (!shown) {
        shown = { counted: 0, whole: 0, parts: new Map(), partsTotal: 0 }
        items.set(at, shown)
      }
      return shown
    }
    return {
      read(event) {
        const data = parseJson(event.data)
        if (!data) return { forward: true }
        const type = typeof data.type === 'string' ? data.type : (event.event ?? '')
        const response = record(data.response)
        const reported = openaiUsage(response?.usage)
        if (reported) usage = reported
        const at = index(data.output_index)
        if (type.endsWith('.delta')) {
          const text = typeof data.delta === 'string' ? data.delta : ''
          if (at !== undefined) item(at).counted += text.length
          return { text, forward: true }
        }
        let text = ''
        if (Array.isArray(response?.output)) {
          // The response as it stands (`response.completed`...): each item whole.
          response.output.forEach((entry, i) => {
            text += beyondCounted(item(i), receivedText(entry), undefined)
          })
        } else if (at !== undefined) {
          // `output_item.*` shows an item whole; `output_text.done`, `content_part.*`... a part.
          text = beyondCounted(item(at), receivedText(data), partOf(data))
        }
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
