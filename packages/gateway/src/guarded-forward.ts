// One model call through the gateway: the core's guarded-call lifecycle (startModelCall)
// around one upstream request. Admit and hold, clamp the body to the hold, forward with the
// call's stop signal (revocation, the hold reached, the agent hanging up), count streamed
// output, then settle from the upstream's usage or end the call saying whether the request
// left. The core decides what each ending costs and which error stands; the gateway only
// translates HTTP. Refusals happen before the upstream is called.
import {
  type AgentGuard,
  findKillSwitchError,
  KillSwitchError,
  type ModelCall,
  type Settlement,
} from '@killswitch/core'
import {
  isGatewayError,
  isRedirect,
  toGatewayError,
  upstreamAuthFailed,
  upstreamBrokeOff,
  upstreamRedirected,
  upstreamUnreachable,
} from './api-errors.js'
import { badRequest, type Dialect, type JsonBody } from './dialects/dialect.js'
import { neverConnected } from './never-connected.js'
import type { Upstream } from './providers.js'
import type { RequestRecord } from './request-log.js'
import { type SseEvent, SseParser } from './sse-parser.js'
import { agentHeadersForUpstream } from './upstream-headers.js'

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

/**
 * What an error answer (a 429, 503, 529) says of when to retry, passed on with it: without
 * it an SDK retries after its own short backoff, early, into the same limit.
 */
function isRetryHeader(name: string): boolean {
  return (
    name === 'retry-after' ||
    name === 'retry-after-ms' ||
    name.startsWith('x-ratelimit-') ||
    name.startsWith('anthropic-ratelimit-')
  )
}

function upstreamHeaders(request: ForwardRequest): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: request.body.stream === true ? 'text/event-stream' : 'application/json',
    ...agentHeadersForUpstream(request.headers, FORWARDED_HEADERS),
  }
  // Last, so nothing the agent sends can replace the gateway's own key.
  return { ...headers, ...request.upstream.authHeaders() }
}

/** The headers passed on to the agent: the key is masked in them as in the body. */
function responseHeaders(
  upstream: Upstream,
  response: Response,
  contentType: string,
  failed = false,
): Headers {
  const headers = new Headers({ 'content-type': upstream.redact(contentType) })
  for (const [name, value] of response.headers) {
    if (RETURNED_HEADERS.includes(name) || (failed && isRetryHeader(name))) {
      headers.set(name, upstream.redact(value))
    }
  }
  return headers
}

function settled(record: RequestRecord, settlement: Settlement): void {
  record.costUsd = settlement.costUsd
  record.outcome = 'settled'
}

/**
 * The body's top-level values as JSON, before anything is held: a value JSON.stringify
 * cannot serialise (nested too deeply) is a 400 here rather than a failure inside `send`,
 * where it would be charged as a request that left.
 */
function encodeFields(body: JsonBody): Map<string, string> {
  const fields = new Map<string, string>()
  try {
    for (const [key, value] of Object.entries(body)) {
      const json = JSON.stringify(value)
      if (json !== undefined) fields.set(key, json)
    }
  } catch {
    throw badRequest('The request body is nested too deeply for the gateway to forward.')
  }
  return fields
}

/**
 * JSON.stringify(prepared), reusing the values `encodeFields` serialised: prepare copies
 * the body and changes only a few small fields, so the body is serialised once.
 */
function encodeBody(prepared: JsonBody, body: JsonBody, fields: Map<string, string>): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(prepared)) {
    const json = value === body[key] ? fields.get(key) : JSON.stringify(value)
    if (json !== undefined) parts.push(`${JSON.stringify(key)}:${json}`)
  }
  return `{${parts.join(',')}}`
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
  dialect.refuseUnbounded?.(body)
  const encoded = encodeFields(body)
  const call = await guard.startModelCall({
    model: body.model,
    provider: dialect.provider,
    input: body,
    maxOutputTokens: dialect.requestedOutputTokens(body),
    // Embeddings: a model priced for input only may serve them.
    ...(dialect.inputOnly ? { inputOnly: true } : {}),
    // Audio output: only a model whose prices hold it (never at the text rate).
    ...(dialect.asksMediaOutput?.(body) ? { mediaOutput: true } : {}),
    // The agent hanging up stops the upstream request too.
    ...(request.clientSignal ? { signal: request.clientSignal } : {}),
  })
  record.handle = call.ticket.handle
  record.holdId = call.ticket.id
  let payload: string
  try {
    payload = encodeBody(dialect.prepare(body, call.maxOutputTokens, stream), body, encoded)
  } catch (error) {
    throw await call.fail(error, { sent: false })
  }
  let response: Response
  try {
    response = await call.send(({ signal }) =>
      request.fetch(`${request.upstream.baseURL}${dialect.upstreamPath}`, {
        method: 'POST',
        headers: upstreamHeaders(request),
        body: payload,
        signal,
        // Never followed: fetch would send the request on, and with it `x-api-key`.
        redirect: 'manual',
      }),
    )
  } catch (error) {
    // No connection made: the request provably never reached the upstream.
    const shown = await call.fail(error, neverConnected(error) ? { sent: false } : {})
    if (KillSwitchError.isInstance(shown)) throw shown
    // An agent that hung up is not a provider failure worth reporting.
    if (!request.clientSignal?.aborted) request.onError(error)
    throw upstreamUnreachable()
  }
  const contentType = response.headers.get('content-type') ?? 'application/json'
  if (!response.ok) return upstreamFailed(request, call, response)
  if (stream && contentType.includes('text/event-stream') && response.body) {
    const headers = responseHeaders(request.upstream, response, contentType)
    headers.set('cache-control', 'no-cache')
    const body = guardedStream(request, call, response.body)
    // The stream writes the request's log line when it ends.
    record.deferred = true
    return new Response(body, { status: response.status, headers })
  }
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    // The body broke off, or the agent was revoked (or hung up) meanwhile: it left.
    const shown = await call.fail(error).catch(() => error)
    if (KillSwitchError.isInstance(shown)) throw shown
    if (request.clientSignal?.aborted) throw error
    // A provider that broke off is reported, as one that broke off a stream is.
    request.onError(error)
    throw upstreamBrokeOff()
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  try {
    const usage = dialect.usageOf(json)
    settled(record, await call.finish({ usage, text: dialect.textOf(json) }))
  } catch (error) {
    // The answer was paid for either way: the agent gets it, and the core retries the
    // settlement until the store takes it. Refusing it now would only invite a retry.
    request.onError(error)
    record.outcome = 'settlement pending'
  }
  // Settled above on what the upstream sent; the agent gets it with the key masked.
  return new Response(request.upstream.redact(text), {
    status: response.status,
    headers: responseHeaders(request.upstream, response, contentType),
  })
}

/**
 * The upstream answered with an error: end the call (the core releases an outright refusal,
 * a 4xx, and charges the rest) and pass the answer on.
 */
async function upstreamFailed(
  request: ForwardRequest,
  call: ModelCall,
  response: Response,
): Promise<Response> {
  const text = await response.text().catch(() => '')
  const error = Object.assign(new Error(`upstream answered ${response.status}`), {
    status: response.status,
  })
  const shown = await call.fail(error)
  if (KillSwitchError.isInstance(shown)) throw shown
  request.record.outcome = `upstream ${response.status}`
  if (response.status === 401 || response.status === 403) throw upstreamAuthFailed()
  if (isRedirect(response)) throw upstreamRedirected()
  return new Response(request.upstream.redact(text), {
    status: response.status,
    headers: responseHeaders(
      request.upstream,
      response,
      response.headers.get('content-type') ?? 'application/json',
      true,
    ),
  })
}

/**
 * The agent's stream: upstream events passed on whole as they arrive, their output counted
 * by the guard, the key masked. A revocation or a spent hold cuts it with a final error event
 * in the API's shape and aborts the upstream request.
 */
function guardedStream(
  request: ForwardRequest,
  call: ModelCall,
  upstreamBody: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const { dialect, record } = request
  const reader = upstreamBody.getReader()
  const parser = new SseParser()
  const events = dialect.streamReader(request.body)
  const encoder = new TextEncoder()
  // Applied to the text passed on, after the guard counted each event as the upstream sent
  // it: what is charged does not depend on the redaction. Events end in a blank line, which
  // no key holds, so it holds nothing back in practice; it matches a key split anywhere.
  const redactor = request.upstream.redactor()
  let ended = false

  /** What the agent is told of a stream cut by `cause` (the error the core says stands). */
  const cutBy = (cause: unknown) => {
    const policy = isPolicyError(cause)
    const hungUp = !policy && request.clientSignal?.aborted === true
    const error = policy ? toGatewayError(cause) : upstreamBrokeOff()
    return {
      error,
      outcome: hungUp ? 'cancelled by client' : `cut: ${error.code}`,
      // A provider or network failure, worth reporting (unlike a refusal or a hang-up).
      unexpected: !policy && !hungUp,
    }
  }

  /** Ends the call once; `outcome` fills in the record before its log line is written. */
  const end = async (outcome: () => Promise<unknown>) => {
    if (ended) return
    ended = true
    try {
      await outcome()
    } catch (error) {
      request.onError(error)
    } finally {
      request.finish()
    }
  }

  // Bytes passed on by this pull: a pull that passes nothing on must read on, for the
  // stream pulls again only once something was enqueued (or the agent reads again).
  let passedOn = false
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, text: string) => {
    if (!text) return
    controller.enqueue(encoder.encode(text))
    passedOn = true
  }

  const pass = (controller: ReadableStreamDefaultController<Uint8Array>, event: SseEvent) => {
    const step = events.read(event)
    // Counted before it is passed on: output past the hold never reaches the agent.
    if (step.text || step.uncounted) call.output({ text: step.text, uncounted: step.uncounted })
    if (step.forward) send(controller, redactor.push(`${event.raw}\n\n`))
  }

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      passedOn = false
      try {
        // Until something is passed on: a read can end inside an event (an event larger
        // than a read, a first event split across two) or hold only events the agent is
        // not sent; returning then left the stream unpulled and the call held for good.
        while (!passedOn) {
          const { done, value } = await reader.read()
          if (done) {
            const last = parser.flush()
            if (last) pass(controller, last)
            send(controller, redactor.flush())
            await end(async () => settled(record, await call.finish({ usage: events.usage() })))
            controller.close()
            return
          }
          for (const event of parser.push(value)) pass(controller, event)
        }
      } catch (error) {
        // Revoked (the upstream read was aborted), over the hold, the agent hung up, or
        // the upstream broke off. The ledger first: once the agent sees the cut, its spend
        // is final. The core says which error stands.
        reader.cancel().catch(() => {})
        let cut = cutBy(error)
        await end(async () => {
          cut = cutBy(await call.fail(error, { usage: events.usage() }))
          record.outcome = cut.outcome
        })
        if (cut.unexpected) request.onError(error)
        try {
          // What the redactor held back (a start of the key, if anything) is dropped: cut.
          send(controller, dialect.streamError(cut.error))
          controller.close()
        } catch {
          // The agent's side is already closed.
        }
      }
    },
    async cancel(reason) {
      // The agent stopped reading: stop the upstream, and end the call (it left). The agent
      // is who the gateway does not trust: what the upstream billed after the hang-up is
      // unknown (one that ignores it goes on to its limit), so the core charges the most
      // the call can cost unless the usage came already; the provider's bill corrects it.
      reader.cancel().catch(() => {})
      record.outcome = 'cancelled by client'
      const usage = events.usage()
      await end(() =>
        call.fail(reason ?? new Error('client cancelled'), {
          usage,
          byCaller: true,
          untrustedCut: true,
        }),
      )
    },
  })
}

/** A refusal by the kill switch or the gateway (as opposed to a provider or network failure). */
function isPolicyError(error: unknown): boolean {
  return findKillSwitchError(error) !== undefined || isGatewayError(error)
}
