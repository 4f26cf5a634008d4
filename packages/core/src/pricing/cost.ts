// Turning tokens into micro-dollars, and the two numbers adapters need before a call: its
// cost bound and the largest max-output-tokens the budget can pay for. Integer arithmetic
// only; every rounding goes up (the ledger never under-charges).
import type { TokenUsage } from '../guard-types.js'
import { mulDivCeil } from '../money.js'
import { type InputEvidence, type ModelRates, maxRate, rateAt } from './model-rates.js'
import { conservativeTokens, DENSEST_TEXT_BYTES_PER_TOKEN } from './output-count.js'
import { serverToolIn } from './server-tools.js'
import type { TokenCounter } from './tokenizer.js'

const PER_MILLION = 1_000_000

/**
 * The context window assumed for a model whose price data and overrides give none: an
 * input part that cannot be sized is bounded by it, and no model bills more input than fits.
 * 2^21 tokens: the largest windows served (Gemini 1.5 Pro, Grok 4 Fast); gemini-2.5-pro's
 * entry has none and takes 1,048,576, past the round million this used to be.
 */
export const DEFAULT_CONTEXT_WINDOW = 2_097_152

/**
 * Tokens a provider adds around a request that has tools (Anthropic's tool-use system prompt
 * is a few hundred): the tools' JSON alone does not bound them.
 */
export const TOOLS_OVERHEAD_TOKENS = 1_024

/** Tokens of a chat template around the messages (role markers, start and end tokens). */
export const REQUEST_OVERHEAD_TOKENS = 64

export interface InputBoundOptions {
  /**
   * The model's context window (ModelRates.contextWindow): the bound of every part that
   * cannot be sized from the request. Defaults to DEFAULT_CONTEXT_WINDOW.
   */
  contextWindow?: number
}

/**
 * An upper bound on the input tokens of a prompt. Text counts its UTF-8 bytes as JSON (a
 * token of a byte-level tokenizer covers at least one byte). A part whose tokens cannot be
 * known from the request (an image, a PDF or audio, by URL, by file id or as bytes or
 * base64: a provider renders it into however many tokens it likes) is bounded by the
 * model's context window, which no request's input can exceed; all such parts together
 * add one context window. Never the length of a URL. A walk rather than JSON.stringify: no
 * string is built, and bytes are not serialised.
 *
 * @example
 * inputTokenBound([{ role: 'user', content: 'hello' }]) // about the prompt's size as JSON
 * inputTokenBound([{ type: 'image', image: new URL('https://x/y.png') }], { contextWindow: 128_000 }) // >= 128,000
 */
export function inputTokenBound(input: unknown, options: InputBoundOptions = {}): number {
  return inputBound(input, options).tokens
}

/**
 * The input bound (`inputTokenBound`) and what the request shows of a costlier input:
 * media or server-side content (priced at the model's media rates, if it has them) and a
 * one-hour prompt cache (its cache writes at the one-hour rate): `ratesFor` applies them.
 * `leastTokens` is the request's text bytes / 16, quickly: runs of one character are not
 * shrunk (`leastInputTokens` shrinks them), so it may be above the least the text comes to.
 */
export function inputBound(
  input: unknown,
  options: InputBoundOptions = {},
  shrinkRuns = false,
  texts?: string[],
): InputEvidence & {
  tokens: number
  leastTokens: number
  plausibleTokens: number
  /** The provider may drop what does not fit: the text sets no least. */
  truncates?: true
} {
  if (typeof input === 'string') {
    const bytes = Buffer.byteLength(input, 'utf8')
    const textBytes = shrinkRuns ? textBytesOf(input, true, texts) : isDataUrl(input) ? 0 : bytes
    return {
      // A prompt given as a string is sent in a chat template too (red team r16: without
      // its overhead, a call of a few bytes was held at half what OpenAI bills for it).
      tokens: bytes + REQUEST_OVERHEAD_TOKENS,
      leastTokens: leastTokensOf(textBytes, options.contextWindow),
      plausibleTokens: fitting(textBytes / PLAUSIBLE_TEXT_BYTES_PER_TOKEN, options.contextWindow),
      media: false,
      longCache: false,
    }
  }
  const walk: Walk = {
    media: false,
    audio: false,
    reasons: false,
    tools: false,
    longCache: false,
    serverTool: undefined,
    shrinkRuns,
    texts,
    textBytes: 0,
    systemBytes: 0,
    systemTexts: undefined,
    dropsSystem: false,
    truncates: false,
  }
  const bytes = jsonBytes(input, 0, walk)
  if (!walk.dropsSystem) {
    walk.textBytes += walk.systemBytes
    if (walk.systemTexts) texts?.push(...walk.systemTexts)
  }
  const window = options.contextWindow ?? DEFAULT_CONTEXT_WINDOW
  const tokens =
    bytes +
    REQUEST_OVERHEAD_TOKENS +
    (walk.tools ? TOOLS_OVERHEAD_TOKENS : 0) +
    (walk.media ? window : 0)
  // A list of texts as the whole input (an embedding call's values): the window bounds each
  // value, not the list (red team r18: a batch of 2,048 values floored at half of one
  // value's window let a provider report an eighth of it and be believed, 4x the cap).
  let leastTokens = leastTokensOf(walk.textBytes, options.contextWindow)
  let plausibleTokens = fitting(walk.textBytes / PLAUSIBLE_TEXT_BYTES_PER_TOKEN, window)
  if (Array.isArray(input)) {
    for (const value of input) {
      if (typeof value !== 'string') continue
      const valueBytes = textBytesOf(value, shrinkRuns, texts)
      leastTokens += leastTokensOf(valueBytes, options.contextWindow)
      plausibleTokens += fitting(valueBytes / PLAUSIBLE_TEXT_BYTES_PER_TOKEN, window)
    }
  }
  // A provider that drops what does not fit bills what is left, which the request does not
  // tell (red team r19: an old long item dropped, the bill 1/16,000 of the floor): no floor.
  if (walk.truncates) {
    leastTokens = 0
    plausibleTokens = 0
  }
  const evidence = {
    tokens,
    leastTokens,
    plausibleTokens,
    media: walk.media,
    longCache: walk.longCache,
    ...(walk.audio && { audio: true }),
    ...(walk.reasons && { reasons: true }),
    ...(walk.truncates && { truncates: true as const }),
  }
  return walk.serverTool === undefined ? evidence : { ...evidence, serverTool: walk.serverTool }
}

interface Walk {
  /** A part that cannot be sized from the request was seen. */
  media: boolean
  /** Audio was seen among the media (InputEvidence.audio). */
  audio: boolean
  /** The request turns reasoning on (InputEvidence.reasons). */
  reasons: boolean
  /** The request declares tools. */
  tools: boolean
  /** A one-hour prompt cache was asked for. */
  longCache: boolean
  /** The first tool the provider runs itself, by its type, id or key. */
  serverTool: string | undefined
  /** Runs of one character count as one token's bytes in `textBytes` (`leastInputTokens`). */
  shrinkRuns: boolean
  /** UTF-8 bytes of the text the provider surely tokenizes (`TEXT_KEYS`). */
  textBytes: number
  /** That text itself, collected only for a tokenizer to count (`leastInputTokens`). */
  texts: string[] | undefined
  /** Of the text, the system messages': a client told to (`systemMessageMode: 'remove'`) drops them. */
  systemBytes: number
  systemTexts: string[] | undefined
  dropsSystem: boolean
  /** The provider may drop what does not fit (Responses' `truncation: 'auto'`). */
  truncates: boolean
}

/**
 * The least input tokens a request's text comes to, exactly: `inputBound().leastTokens`
 * with every run of one character counted as one token; with the model's tokenizer
 * (`counter`), at least 90% of its count of that text (the margin the output floor keeps),
 * so that a report of a fraction of a prompt the guard can count is not believed (red team
 * r17: input reported at its bytes / 16 on gpt-4o, billed 3.4x what was recorded). Both
 * at most half the model's window (a provider that truncates bills what fits). The guard
 * asks for this only when usage reports less than its quick figure (`plausibleTokens`). A
 * request the provider may truncate has no least (`inputBound`).
 */
export function leastInputTokens(
  input: unknown,
  options: InputBoundOptions & { counter?: TokenCounter } = {},
): number {
  const { counter } = options
  // Each value of a list (an embedding call's) on its own: the window bounds each.
  const values = Array.isArray(input) && input.length > 1 && input.every(isString)
  if (counter !== undefined && values) {
    let least = 0
    for (const value of input) least += leastInputTokens(value, options)
    return least
  }
  const texts = counter === undefined ? undefined : ([] as string[])
  const bound = inputBound(input, options, true, texts)
  const least = bound.leastTokens
  if (texts === undefined || counter === undefined || bound.truncates) return least
  let counted = 0
  for (const text of texts) counted += counter.count(text)
  return Math.max(least, fitting(counted * 0.9, options.contextWindow))
}

const isString = (value: unknown): value is string => typeof value === 'string'

/**
 * The most input tokens a provider bills for `input`: its model's window holds no more (a
 * request past it is refused, unbilled, or truncated to fit), one window per value of a
 * list (an embedding call's). Unbounded when the window is not known.
 */
export function billableInputMost(input: unknown, contextWindow: number | undefined): number {
  if (contextWindow === undefined) return Number.POSITIVE_INFINITY
  return Array.isArray(input) ? contextWindow * Math.max(1, input.length) : contextWindow
}

/**
 * Text bytes per token above which a report of a tokenizable prompt is believed without
 * counting it (`plausibleTokens`): an honest o200k or cl100k token carries under 5 bytes of
 * English prose, 3 of code, fewer in other scripts. A report under `textBytes / 6` is
 * counted by the tokenizer (`leastInputTokens`).
 */
const PLAUSIBLE_TEXT_BYTES_PER_TOKEN = 6

/**
 * The least input tokens a request's text comes to: usage reporting fewer is not believed
 * (call-ending.ts). A provider reporting one input token for a 4,000-token prompt was
 * believed (red team r14: billed 10.5x the cap; an embedding's whole bill is its input).
 */
function leastTokensOf(textBytes: number, contextWindow: number | undefined): number {
  return fitting(textBytes / DENSEST_TEXT_BYTES_PER_TOKEN, contextWindow)
}

/**
 * A least input count, at most half the model's window: a provider that truncates what does
 * not fit (OpenAI Responses' `truncation: 'auto'`, embeddings that truncate long inputs)
 * bills less than the text it was sent, never less than what fits after its reply.
 */
function fitting(tokens: number, contextWindow: number | undefined): number {
  return Math.min(Math.floor(tokens), Math.floor((contextWindow ?? DEFAULT_CONTEXT_WINDOW) / 2))
}

// Keys whose string value (or list of strings) is text the provider tokenizes as input, in
// every wire format: message `content` and parts' `text`, Responses `input` and
// `instructions`, Anthropic `system`, a completion's `prompt`, an embedding's `input`.
// Only what is surely text: a lower bound (tool schemas, names and the like are left out).
const TEXT_KEYS = new Set(['content', 'text', 'input', 'instructions', 'system', 'prompt'])

// Part types whose text a provider may not bill as input: reasoning and thinking carried in
// a history (AI SDK `reasoning`, Anthropic `thinking`/`redacted_thinking`, Responses
// `reasoning` items' `summary_text`, LangChain `reasoning` blocks).
const UNBILLED_TEXT_TYPES = new Set([
  'reasoning',
  'reasoning_text',
  'summary_text',
  'thinking',
  'redacted_thinking',
])

// A character repeated 16 times or more: a tokenizer has single tokens for long runs (64
// dashes, 80 equals signs, 128 spaces), so a run counts as one token's bytes, not its own.
const RUN = /(.)\1{15,}/gsu

/**
 * The UTF-8 bytes of a text, or of a list's texts (a data URL is not text), with runs
 * shrunk when `shrinkRuns`.
 */
function textBytesOf(value: unknown, shrinkRuns: boolean, texts?: string[]): number {
  if (typeof value === 'string') {
    if (isDataUrl(value)) return 0
    texts?.push(value)
    let bytes = Buffer.byteLength(value, 'utf8')
    if (!shrinkRuns || value.length < 16) return bytes
    for (const run of value.matchAll(RUN)) {
      bytes -= Buffer.byteLength(run[0], 'utf8') - DENSEST_TEXT_BYTES_PER_TOKEN
    }
    return bytes
  }
  if (!Array.isArray(value)) return 0
  let bytes = 0
  for (const item of value) {
    if (typeof item === 'string') bytes += textBytesOf(item, shrinkRuns, texts)
  }
  return bytes
}

// Deeper than any real prompt; a cycle or a pathological value is bounded, not followed.
const MAX_DEPTH = 64

// Part types that carry content a provider turns into tokens by its own rules, in every
// wire format the adapters see: AI SDK prompts (`file`, `image`), OpenAI chat and responses
// (`image_url`, `input_image`, `input_file`, `input_audio`, `file`), Anthropic (`image`,
// `document`, `container_upload`), LangChain content blocks (`image`, `file`, `audio`,
// `video`, `media`), Gemini (`inline_data`, `file_data`).
const MEDIA_TYPES = new Set([
  'image',
  'image_url',
  'input_image',
  'file',
  'input_file',
  'input_audio',
  'audio',
  'video',
  'document',
  'media',
  'image_file',
  'container_upload',
  // OpenAI Responses input items by id (stored by the provider, billed as input).
  'item_reference',
  // AI SDK tool-result content and reasoning files.
  'reasoning-file',
  'image-data',
  'image-url',
  'image-file-id',
  'file-data',
  'file-url',
  'file-id',
])
// Audio parts by type (OpenAI's `input_audio`, LangChain's `audio`), and the keys that name a
// content part's media type (the AI SDK's `mediaType`, LangChain's `mime_type`, Anthropic's
// `media_type`, Gemini's `mimeType`/`mime_type`): `audio` or `audio/...` there is audio too,
// in any case (the AI SDK sniffs the bytes of a bare `audio`). Only on a content part: one
// with a media `type` or its content beside it, not a tool's arguments naming a file's type.
const AUDIO_TYPES = new Set(['input_audio', 'audio'])
const MIME_KEYS = new Set(['mediaType', 'mimeType', 'mime_type', 'media_type'])
const CONTENT_KEYS = new Set(['data', 'url', 'uri', 'file_uri', 'fileUri', 'file_id', 'fileId'])
const AUDIO_MIME = /^audio(?:\/|$)/i

// Gemini parts carry their content under a key, without a `type`.
const MEDIA_KEYS = new Set(['inline_data', 'inlineData', 'file_data', 'fileData'])

// Content the provider adds from its side, which the request names but does not carry:
// OpenAI Responses' stored conversation (`previous_response_id`, `conversation`) and stored
// prompts (`prompt: { id }`), Gemini's cached content, Anthropic threads. Unsizable from the
// request: bounded by the context window, as a file by URL is.
const REFERENCE_KEYS = new Set([
  'previous_response_id',
  'previousResponseId',
  // Anthropic threads: `thread: { type: 'continue', previous_message_id }`.
  'previous_message_id',
  'previousMessageId',
  'conversation',
  'cachedContent',
  'cached_content',
])

// A request's switches for reasoning: OpenAI's `reasoning_effort` (chat) and `reasoning`
// (Responses; OpenRouter's too, and its `include_reasoning`), the AI SDK's
// `reasoningEffort`, Anthropic's `thinking`, Bedrock's `reasoningConfig`, Gemini's
// `thinkingConfig`, Qwen's `enable_thinking`.
const REASONING_KEYS = new Set([
  ...['reasoning_effort', 'reasoningEffort', 'reasoning', 'thinking', 'reasoningConfig'],
  ...['thinkingConfig', 'thinking_config', 'include_reasoning', 'enable_thinking'],
])

/** A reasoning switch that is on: an effort other than none, a setting not disabled. */
function turnsOn(value: unknown): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') return !/^(?:none|off|disabled|false|)$/i.test(value)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const setting = value as Record<string, unknown>
  if (setting.type === 'disabled' || setting.enabled === false || setting.effort === 'none') {
    return false
  }
  // Gemini's and Bedrock's budgets: 0 turns thinking off.
  return setting.thinkingBudget !== 0 && setting.thinking_budget !== 0 && setting.budgetTokens !== 0
}

// MCP servers the provider connects to: their tools run there, billed as the provider's own.
// Named at a request's top, or in its provider options (`providerOptions.anthropic`).
const MCP_KEYS = new Set(['mcp_servers', 'mcpServers'])
// Where a request's own fields are: its top, its provider options or params (depth 1), and
// one namespace in (`options.anthropic`): deeper is a message, a schema or a tool's input.
const REQUEST_DEPTH = 2
// A request's tool list: at its top, or in the params or options an adapter passes.
const TOOLS_DEPTH = 2

/** A tool the provider runs itself was declared: also content of unknown size (a window). */
function serverTool(walk: Walk, name: string): void {
  walk.media = true
  walk.serverTool ??= name
}

/** A reference to server-side content: a non-empty id, or an object naming one. */
function isReference(key: string, value: unknown): boolean {
  if (typeof value === 'string') return value !== ''
  if (Array.isArray(value)) return value.length > 0
  if (value === null || typeof value !== 'object') return false
  // `conversation` may be an object with an id; MCP servers an object of servers.
  return key === 'conversation' ? typeof (value as { id?: unknown }).id === 'string' : true
}

/** OpenAI's stored prompt: `prompt: { id: 'pmpt_...' }` (an AI SDK prompt is an array). */
function isStoredPrompt(key: string, value: unknown): boolean {
  return (
    key === 'prompt' &&
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as { id?: unknown }).id === 'string'
  )
}

/** A Gemini-style media field: an object naming a MIME type or a file URI (not a schema). */
function isMediaField(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const fields = value as Record<string, unknown>
  return (
    typeof (fields.mime_type ?? fields.mimeType ?? fields.file_uri ?? fields.fileUri) === 'string'
  )
}

function isDataUrl(value: string): boolean {
  return value.startsWith('data:') && value.includes(';base64,')
}

function jsonBytes(value: unknown, depth: number, walk: Walk): number {
  switch (typeof value) {
    case 'string':
      if (isDataUrl(value)) {
        walk.media = true
        if (/^data:audio\//i.test(value)) walk.audio = true
      }
      return Buffer.byteLength(value, 'utf8') + 2
    case 'number':
    case 'bigint':
      return 24
    case 'boolean':
      return 5
    case 'object': {
      if (value === null) return 4
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        // Bytes whose token cost only the provider knows (an image, a PDF, audio).
        walk.media = true
        return 2
      }
      if (value instanceof URL) {
        // Content by reference: the provider fetches it; its URL says nothing of its size.
        walk.media = true
        return Buffer.byteLength(value.href, 'utf8') + 2
      }
      if (depth >= MAX_DEPTH) {
        walk.media = true
        return 2
      }
      // As JSON.stringify does: an object that says how it serialises (a framework's
      // message class, a Date) is sized as that, not as its internals.
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') return jsonBytes(toJSON.call(value), depth + 1, walk)
      let bytes = 2
      if (Array.isArray(value)) {
        for (const item of value) bytes += jsonBytes(item, depth + 1, walk) + 1
        return bytes
      }
      const record = value as Record<string, unknown>
      const type = record.type
      // A system message's text is set apart: a client told to drops it.
      const system = record.role === 'system'
      // Where its text began (-1: not a system message), to set it apart once walked.
      const systemBytesFrom = system ? walk.textBytes : -1
      const systemTextsFrom = system ? (walk.texts?.length ?? 0) : 0
      const mediaTyped = typeof type === 'string' && MEDIA_TYPES.has(type)
      // Reasoning a history carries is no text the provider surely bills as input (OpenAI's
      // clients drop other providers' reasoning parts: red team r18, an honest report not
      // believed and charged 187x its bill): left out of the floor, not of the bound.
      const unbilledText = typeof type === 'string' && UNBILLED_TEXT_TYPES.has(type)
      if (mediaTyped) {
        walk.media = true
        if (AUDIO_TYPES.has(type)) walk.audio = true
      }
      // A content part's media type (read in the one pass over its keys below).
      let mime: unknown
      let content = mediaTyped
      // A message (it has a role) is history, not the request's switches.
      const switches = depth <= REQUEST_DEPTH && !('role' in record)
      for (const key in record) {
        const item = record[key]
        if (MIME_KEYS.has(key)) mime = item
        else if (CONTENT_KEYS.has(key)) content = true
        if (MEDIA_KEYS.has(key) && isMediaField(item)) walk.media = true
        if (REFERENCE_KEYS.has(key) && isReference(key, item)) walk.media = true
        if (depth <= REQUEST_DEPTH && MCP_KEYS.has(key) && isReference(key, item)) {
          serverTool(walk, key)
        }
        if (switches && REASONING_KEYS.has(key) && turnsOn(item)) walk.reasons = true
        if (key === 'tools' && depth <= TOOLS_DEPTH && Array.isArray(item)) {
          const server = serverToolIn(item)
          if (server !== undefined) serverTool(walk, server)
        }
        // A chat message's audio by id (a previous answer's, kept by the provider).
        if (key === 'audio' && typeof (item as { id?: unknown } | null)?.id === 'string') {
          walk.media = true
          walk.audio = true
        }
        if (isStoredPrompt(key, item)) walk.media = true
        if (key === 'ttl' && item === '1h') walk.longCache = true
        if (key === 'systemMessageMode' && item === 'remove') walk.dropsSystem = true
        if (key === 'truncation' && item === 'auto') walk.truncates = true
        if (key === 'tools' && depth <= 1 && hasEntries(item)) walk.tools = true
        if (TEXT_KEYS.has(key) && !mediaTyped && !unbilledText) {
          walk.textBytes += textBytesOf(item, walk.shrinkRuns, walk.texts)
        }
        const textBefore = walk.textBytes
        const textsBefore = walk.texts?.length ?? 0
        bytes += Buffer.byteLength(key, 'utf8') + 4 + jsonBytes(item, depth + 1, walk)
        // OpenAI's Predicted Outputs: the predicted text is not billed as input (its rejected
        // tokens are output), so it is no floor of the input (red team r15: 6-8x the bill);
        // nor is stored metadata (its `prompt` or `input` fields, red team r19: 33x).
        if (key === 'prediction' || key === 'metadata') {
          walk.textBytes = textBefore
          walk.texts?.splice(textsBefore)
        }
      }
      if (content && typeof mime === 'string' && AUDIO_MIME.test(mime)) {
        walk.media = true
        walk.audio = true
      }
      if (systemBytesFrom >= 0) {
        walk.systemBytes += walk.textBytes - systemBytesFrom
        walk.textBytes = systemBytesFrom
        const moved = walk.texts?.splice(systemTextsFrom)
        if (moved) {
          walk.systemTexts ??= []
          walk.systemTexts.push(...moved)
        }
      }
      return bytes
    }
    default:
      return 0
  }
}

function hasEntries(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0
}

/**
 * A conservative count of the tokens in streamed text, for any tokenizer
 * (see output-count.ts).
 *
 * @example
 * estimateOutputTokens('four') // 3
 */
export function estimateOutputTokens(text: string): number {
  return conservativeTokens(text)
}

function tokens(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0
}

/**
 * The cost in micro-dollars of a call with this usage.
 *
 * @example
 * const micros = costOfUsage({ inputTokens: 1200, cacheReadTokens: 800, outputTokens: 300 }, rates)
 */
export function costOfUsage(usage: TokenUsage, rates: ModelRates): number {
  const cacheRead = tokens(usage.cacheReadTokens)
  const cacheWrite = tokens(usage.cacheWriteTokens)
  // Written for an hour: at the one-hour rate, or the call's if that is higher.
  const longWrite = Math.min(tokens(usage.longCacheWriteTokens), cacheWrite)
  // Providers that report input without the cached part: the total is at least the parts.
  const input = Math.max(tokens(usage.inputTokens), cacheRead + cacheWrite)
  const output = tokens(usage.outputTokens)
  const reasoning = Math.min(tokens(usage.reasoningTokens), output)
  const uncached = input - cacheRead - cacheWrite
  const picos =
    uncached * rateAt(rates.input, input) +
    cacheRead * rateAt(rates.cacheRead, input) +
    (cacheWrite - longWrite) * rateAt(rates.cacheWrite, input) +
    longWrite * Math.max(rateAt(rates.cacheWrite, input), longWriteRate(rates, input)) +
    (output - reasoning) * rateAt(rates.output, input) +
    reasoning * rateAt(rates.reasoning, input)
  return rates.perRequestMicros + mulDivCeil(picos, 1, PER_MILLION)
}

/** The one-hour cache write rate at `input` tokens, when the model has one (else 0). */
function longWriteRate(rates: ModelRates, input: number): number {
  return rates.longCacheWrite === undefined ? 0 : rateAt(rates.longCacheWrite, input)
}

/**
 * The most an input token of a call with at most `inputTokens` input tokens can cost (cache
 * writes can cost more than plain input; a tier past its input is not reached).
 */
function maxInputRate(rates: ModelRates, inputTokens: number): number {
  return Math.max(
    maxRate(rates.input, inputTokens),
    maxRate(rates.cacheWrite, inputTokens),
    maxRate(rates.cacheRead, inputTokens),
  )
}

/**
 * The most an output token can cost (reasoning can be priced apart), in a call with at most
 * `inputTokens` input tokens (tiers go by the input).
 */
export function maxOutputRate(rates: ModelRates, inputTokens = Number.POSITIVE_INFINITY): number {
  return Math.max(maxRate(rates.output, inputTokens), maxRate(rates.reasoning, inputTokens))
}

/**
 * The cost bound in micro-dollars of a call with these input and output token bounds.
 *
 * @example
 * const holdMicros = costBound(inputTokenBound(prompt), maxOutputTokens, rates)
 */
export function costBound(inputTokens: number, maxOutputTokens: number, rates: ModelRates): number {
  return (
    rates.perRequestMicros +
    mulDivCeil(inputTokens, maxInputRate(rates, inputTokens), PER_MILLION) +
    mulDivCeil(maxOutputTokens, maxOutputRate(rates, inputTokens), PER_MILLION)
  )
}

/**
 * The largest max-output-tokens whose call `availableMicros` can pay for, given the input
 * bound; 0 when not even the input is affordable. Unbounded (Infinity) for a free model.
 *
 * @example
 * const maxOutputTokens = affordableOutputTokens(availableMicros, inputTokenBound(prompt), rates)
 */
export function affordableOutputTokens(
  availableMicros: number,
  inputTokens: number,
  rates: ModelRates,
): number {
  const left =
    availableMicros -
    rates.perRequestMicros -
    mulDivCeil(inputTokens, maxInputRate(rates, inputTokens), PER_MILLION)
  if (left < 0) return 0
  const rate = maxOutputRate(rates, inputTokens)
  if (rate === 0) return Number.POSITIVE_INFINITY
  // The largest n with ceil(n * rate / 1e6) <= left is floor(left * 1e6 / rate), exactly
  // (one division, no search). In doubles while left * 1e6 is a safe integer: a quotient of
  // integers below 2^53 is rounded by less than its distance to the next integer.
  if (!Number.isFinite(left)) return left > 0 ? Number.MAX_SAFE_INTEGER : 0
  const whole = Math.floor(left)
  const divisor = Math.ceil(rate)
  const product = whole * PER_MILLION
  if (Number.isSafeInteger(product)) return Math.floor(product / divisor)
  // Past that (a cap above about $9,000): whole = q * divisor + r, so the answer is
  // q * 1e6 + floor(r * 1e6 / divisor), each part exact in doubles by the same argument while
  // divisor * 1e6 is safe (any rate under $9e9 per million tokens). BigInt, ten times the
  // cost on every call of such an agent, only beyond.
  if (Number.isSafeInteger(whole) && Number.isSafeInteger(divisor * PER_MILLION)) {
    const q = Math.floor(whole / divisor)
    const high = q * PER_MILLION
    const low = Math.floor(((whole - q * divisor) * PER_MILLION) / divisor)
    return high > Number.MAX_SAFE_INTEGER - low ? Number.MAX_SAFE_INTEGER : high + low
  }
  const n = (BigInt(whole) * BigInt(PER_MILLION)) / BigInt(divisor)
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n)
}
