// One model call through the gateway: the core's guarded-call lifecycle around one upstream
// request. Admit and hold (beforeModelCall), clamp the body to the hold, forward with a
// signal that a revocation aborts, count streamed output, then settle from the upstream's
// usage or end the call saying whether the request left. Refusals happen before the
// upstream is called.
import {
  type AgentGuard,
  findKillSwitchError,
  type ModelCallTicket,
  type Settlement,
} from '@killswitch/core'
import { type GatewayError, isGatewayError, toGatewayError } from './api-errors.js'
import { failCall, neverConnected } from './call-ending.js'
import { badRequest, type Dialect, type JsonBody } from './dialects/dialect.js'
import type { Upstream } from './providers.js'
import type { RequestRecord } from './request-log.js'
import { type SseEvent, SseParser } from './sse-parser.js'

/** Everything one forwarded call needs. */
export interface ForwardRequest {
  guard: AgentGuard
  dialect: Dialect
  upstream: Upstream
  body: JsonBody
  /** The agent's request headers: only the API's version and beta headers are forwarded. */
  headers: Headers
  fetch: typeof fetch
  /** Aborted when the agent's connection goes away. */
  clientSignal: AbortSignal | undefined
  /** Filled in as the call goes; `finish` is called once the call has ended (streams too). */
  record: RequestRecord
  finish(): void
  onError(error: unknown): void
}

const FORWARDED_HEADERS = ['anthropic-version', 'anthropic-beta', 'openai-beta']
const RETURNED_HEADERS = ['x-request-id', 'request-id']

function upstreamHeaders(request: ForwardRequest): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: request.body.stream === true ? 'text/event-stream' : 'application/json',
  }
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers.get(name)
    if (value !== null) headers[name] = value
  }
  // Last, so nothing the agent sends can replace the gateway's own key.
  return { ...headers, ...request.upstream.authHeaders() }
}

function responseHeaders(upstream: Response, contentType: string): Headers {
  const headers = new Headers({ 'content-type': contentType })
  for (const name of RETURNED_HEADERS) {
    const value = upstream.headers.get(name)
    if (value !== null) headers.set(name, value)
  }
  return headers
}

/** The revocation error behind an aborted guard signal. */
function revocation(guard: AgentGuard): unknown {
  return guard.signal.reason ?? { status: 401, code: 'agent_revoked', message: 'revoked' }
}

/** Links the upstream request's abort to the agent's revocation and the client going away. */
function linkAbort(guard: AgentGuard, clientSignal: AbortSignal | undefined) {
  const controller = new AbortController()
  const abort = () => controller.abort()
  guard.signal.addEventListener('abort', abort, { once: true })
  clientSignal?.addEventListener('abort', abort, { once: true })
  return {
    signal: controller.signal,
    abort,
    // The guard's signal lives as long as the agent: listeners must not pile up on it.
    unlink() {
      guard.signal.removeEventListener('abort', abort)
      clientSignal?.removeEventListener('abort', abort)
    },
  }
}

function settled(record: RequestRecord, settlement: Settlement): void {
  record.costUsd = settlement.costUsd
  record.outcome = 'settled'
}

/**
 * Runs one model call through the guard and the upstream, and returns the agent's response.
 * Throws (before anything is spent) when the guard refuses the call.
 */
export async function forwardModelCall(request: ForwardRequest): Promise<Response> {
  const { guard, dialect, body, record } = request
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw badRequest('Invalid model: the model id is required (e.g. "gpt-4o").')
  }
  const stream = body.stream === true
  if (stream && dialect.inputOnly) throw badRequest('This endpoint cannot be streamed.')
  record.model = body.model
  record.stream = stream
  const ticket = await guard.beforeModelCall({
    model: body.model,
    provider: dialect.provider,
    input: body,
    maxOutputTokens: dialect.requestedOutputTokens(body),
  })
  record.handle = ticket.handle
  let prepared: JsonBody
  try {
    prepared = dialect.prepare(body, ticket.maxOutputTokens, stream)
    if (guard.signal.aborted) throw revocation(guard)
  } catch (error) {
    await failCall(guard, ticket, error, false)
    throw error
  }
  const link = linkAbort(guard, request.clientSignal)
  let response: Response
  try {
    response = await request.fetch(`${request.upstream.baseURL}${dialect.upstreamPath}`, {
      method: 'POST',
      headers: upstreamHeaders(request),
      body: JSON.stringify(prepared),
      signal: link.signal,
    })
  } catch (error) {
    link.unlink()
    const sent = !neverConnected(error)
    await failCall(guard, ticket, error, sent)
    if (guard.signal.aborted) throw revocation(guard)
    // An agent that hung up is not a provider failure worth reporting.
    if (!request.clientSignal?.aborted) request.onError(error)
    throw upstreamUnreachable()
  }
  const contentType = response.headers.get('content-type') ?? 'application/json'
  if (!response.ok) return upstreamFailed(request, ticket, response, link.unlink)
  if (stream && contentType.includes('text/event-stream') && response.body) {
    const headers = responseHeaders(response, contentType)
    headers.set('cache-control', 'no-cache')
    const body = guardedStream(request, ticket, response.body, link)
    // The stream writes the request's log line when it ends.
    record.deferred = true
    return new Response(body, { status: response.status, headers })
  }
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    // The body broke off, or the agent was revoked (or hung up) meanwhile: it left.
    await failCall(guard, ticket, error, true).catch(request.onError)
    if (guard.signal.aborted) throw revocation(guard)
    throw request.clientSignal?.aborted ? error : upstreamBrokeOff()
  } finally {
    link.unlink()
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  try {
    const usage = dialect.usageOf(json)
    settled(record, await guard.afterModelCall(ticket, { usage, text: dialect.textOf(json) }))
  } catch (error) {
    // The answer was paid for either way: the agent gets it, and the core retries the
    // settlement until the store takes it. Refusing it now would only invite a retry.
    request.onError(error)
    record.outcome = 'settlement pending'
  }
  return new Response(text, {
    status: response.status,
    headers: responseHeaders(response, contentType),
  })
}

function upstreamBrokeOff(): GatewayError {
  return {
    status: 502,
    code: 'upstream_failed',
    message: 'The model provider broke off its response.',
  }
}

function upstreamUnreachable(): GatewayError {
  return {
    status: 502,
    code: 'upstream_unreachable',
    message: 'The gateway could not reach the model provider.',
  }
}

/** The upstream answered with an error: end the call (it left) and pass the answer on. */
async function upstreamFailed(
  request: ForwardRequest,
  ticket: ModelCallTicket,
  response: Response,
  unlink: () => void,
): Promise<Response> {
  const text = await response.text().catch(() => '')
  unlink()
  const error = new Error(`upstream answered ${response.status}`)
  await failCall(request.guard, ticket, error, true, undefined, response.status)
  request.record.outcome = `upstream ${response.status}`
  if (response.status === 401 || response.status === 403) {
    // The provider refused the gateway's own key: the agent cannot fix that, and the
    // provider's message may quote part of the key.
    throw {
      status: 502,
      code: 'upstream_auth_failed',
      message:
        'The model provider refused the gateway: the gateway operator must check its provider key.',
    } satisfies GatewayError
  }
  return new Response(request.upstream.redact(text), {
    status: response.status,
    headers: responseHeaders(response, response.headers.get('content-type') ?? 'application/json'),
  })
}

/**
 * The agent's stream: upstream events passed on whole as they arrive, their output counted
 * by the guard. A revocation or a spent hold cuts it with a final error event in the API's
 * shape and aborts the upstream request.
 */
function guardedStream(
  request: ForwardRequest,
  ticket: ModelCallTicket,
  upstreamBody: ReadableStream<Uint8Array>,
  link: ReturnType<typeof linkAbort>,
): ReadableStream<Uint8Array> {
  const { guard, dialect, record } = request
  const reader = upstreamBody.getReader()
  const parser = new SseParser()
  const events = dialect.streamReader(request.body)
  const encoder = new TextEncoder()
  let ended = false

  const end = async (outcome: () => Promise<void>) => {
    if (ended) return
    ended = true
    link.unlink()
    try {
      await outcome()
    } catch (error) {
      request.onError(error)
    } finally {
      request.finish()
    }
  }

  const pass = (controller: ReadableStreamDefaultController<Uint8Array>, event: SseEvent) => {
    const step = events.read(event)
    // Counted before it is passed on: output past the hold never reaches the agent.
    if (step.text) guard.onOutputDelta(ticket, { text: step.text })
    if (step.forward) controller.enqueue(encoder.encode(`${event.raw}\n\n`))
  }

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) {
          const last = parser.flush()
          if (last) pass(controller, last)
          await end(async () => {
            const settlement = await guard.afterModelCall(ticket, { usage: events.usage() })
            settled(record, settlement)
          })
          controller.close()
          return
        }
        for (const event of parser.push(value)) pass(controller, event)
      } catch (error) {
        // Revoked (the upstream read was aborted), over the hold, the agent hung up, or
        // the upstream broke off.
        link.abort()
        reader.cancel().catch(() => {})
        const cause = guard.signal.aborted ? revocation(guard) : error
        const policy = guard.signal.aborted || isPolicyError(cause)
        const hungUp = !policy && request.clientSignal?.aborted === true
        if (!policy && !hungUp) request.onError(error)
        const gatewayError = policy ? toGatewayError(cause) : upstreamBrokeOff()
        record.outcome = hungUp ? 'cancelled by client' : `cut: ${gatewayError.code}`
        // The ledger first: once the agent sees the cut, its spend is final.
        await end(() => failCall(guard, ticket, cause, true, events.usage()))
        try {
          controller.enqueue(encoder.encode(dialect.streamError(gatewayError)))
          controller.close()
        } catch {
          // The agent's side is already closed.
        }
      }
    },
    async cancel(reason) {
      // The agent stopped reading: stop the upstream, and end the call (it left).
      link.abort()
      reader.cancel().catch(() => {})
      record.outcome = 'cancelled by client'
      await end(() =>
        failCall(guard, ticket, reason ?? new Error('client cancelled'), true, events.usage()),
      )
    },
  })
}

/** A refusal by the kill switch or the gateway (as opposed to a provider or network failure). */
function isPolicyError(error: unknown): boolean {
  return findKillSwitchError(error) !== undefined || isGatewayError(error)
}
