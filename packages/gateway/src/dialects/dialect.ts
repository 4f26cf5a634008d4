// What the gateway needs to know about one API route: how to read and clamp its request,
// where its usage is, and how its stream looks. The lifecycle (guarded-forward.ts) is the
// same for all of them; a dialect only translates.
import type { TokenUsage } from '@killswitch/core'
import type { ApiFamily, GatewayError } from '../api-errors.js'
import type { SseEvent } from '../sse-parser.js'

/** A parsed JSON request body. */
export type JsonBody = Record<string, unknown>

/** What the stream reader makes of one upstream event. */
export interface StreamStep {
  /** Output the event carries (text, tool-call arguments, reasoning), to count. */
  text?: string
  /**
   * The event carries output the gateway cannot count (audio): the core then charges a
   * call that ends without the provider's usage its whole output bound.
   */
  uncounted?: boolean
  /** False to hold the event back from the agent (a usage chunk it did not ask for). */
  forward: boolean
}

/** Reads one stream: per-stream state lives in it. */
export interface StreamReader {
  read(event: SseEvent): StreamStep
  /** The usage the stream reported, if it did. */
  usage(): TokenUsage | undefined
}

export interface Dialect {
  readonly family: ApiFamily
  /** The provider whose key and base URL serve this route (and that prices the model). */
  readonly provider: 'openai' | 'anthropic'
  /** The upstream path, appended to the provider's base URL. */
  readonly upstreamPath: string
  /** True when this route produces no output tokens (embeddings). */
  readonly inputOnly?: boolean
  /** True when the request asks for media output (audio): priced apart, or refused. */
  asksMediaOutput?(body: JsonBody): boolean
  /**
   * The output tokens to ask the guard for: the caller's own limit (times the number of
   * choices where several are asked for), or undefined for the default.
   */
  requestedOutputTokens(body: JsonBody): number | undefined
  /**
   * Throws a 400 naming the field when the request asks for something whose cost no hold
   * can bound (unbounded-requests.ts); called before anything is held.
   */
  refuseUnbounded?(body: JsonBody): void
  /** The body to send upstream, with output limits clamped to what the hold pays for. */
  prepare(body: JsonBody, maxOutputTokens: number, stream: boolean): JsonBody
  /** The usage of a whole (not streamed) response. */
  usageOf(response: unknown): TokenUsage | undefined
  /** The output text of a whole response, for loop detection (hashed by the core). */
  textOf(response: unknown): string | undefined
  /** A reader for one streamed response to `body`. */
  streamReader(body: JsonBody): StreamReader
  /** The final event that tells the agent its stream was cut, in the API's own shape. */
  streamError(error: GatewayError): string
}

/** A gateway error raised while reading a request. */
export function badRequest(message: string): GatewayError {
  return { status: 400, code: 'invalid_request', message }
}

/** A whole number > 0, or undefined; anything else is a bad request naming the field. */
export function positiveInt(body: JsonBody, field: string): number | undefined {
  const value = body[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw badRequest(`Invalid ${field}: a whole number >= 1 is required.`)
  }
  return value
}

/** A finite count >= 0 from an upstream usage block, else undefined. */
export function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

export function parseJson(data: string): Record<string, unknown> | undefined {
  try {
    return record(JSON.parse(data))
  } catch {
    return undefined
  }
}
