// Delivers alert webhooks off the hot path. `dispatch` only queues a promise and returns:
// a guarded model call never waits for on-call's receiver. Delivery is at-least-once: each
// event keeps its id across retries (receivers de-duplicate on it), retries back off
// exponentially with full jitter (so a fleet does not stampede a receiver that comes back),
// every attempt is re-signed with a fresh timestamp (a retry minutes later still verifies),
// and `flush` lets a graceful shutdown wait for what is still in flight.
//
// Hardening: every alert is signed (a target without a secret is refused, never sent bare);
// targets on loopback, private, link-local or metadata addresses are refused before
// connecting, with one reason whatever the port (see webhook-target-policy.ts), and the
// connection is pinned to the address that passed the check (DNS rebinding); and at most
// `maxConcurrentPerReceiver` requests are open to one receiver at a time.

import { InvalidConfigError } from '../errors.js'
import type { AlertEvent } from './alert-event.js'
import { type AlertFormat, formatAlertBody } from './alert-format.js'
import { signWebhookPayload, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js'
import {
  type AllowPrivateWebhooks,
  checkWebhookHost,
  REFUSED_TARGET_REASON,
  webhookTargetPolicy,
} from './webhook-target-policy.js'
import {
  postWebhook,
  type ResolveHost,
  systemResolve,
  WebhookTargetRefusedError,
} from './webhook-transport.js'
import { hideWebhookUrl, webhookUrlSchema } from './webhook-url.js'

/** Where one alert goes. */
export interface WebhookTarget {
  url: string
  /** Signing secret. Required: a target without one is refused (alerts are always signed). */
  secret?: string
  /** The body's shape: `json` (default, the event), `slack` or `pagerduty` (Events v2). */
  format?: AlertFormat
  /** PagerDuty routing key, for `format: 'pagerduty'`. */
  routingKey?: string
}

/** How a delivery ended, after all its attempts. */
export interface WebhookOutcome {
  event: AlertEvent
  url: string
  ok: boolean
  /** HTTP requests made (0 when the delivery was refused before sending). */
  attempts: number
  /** The last HTTP status received, if any. */
  status?: number
  /** Why it failed (last attempt), when `ok` is false. Never contains the secret. */
  error?: string
}

/** One failed attempt that will be retried. */
export interface WebhookRetry {
  event: AlertEvent
  url: string
  /** The attempt that failed (1-based). */
  attempt: number
  /** How long until the next attempt. */
  delayMs: number
  status?: number
  error: string
}

/** Options of `createWebhookDispatcher`. */
export interface WebhookDispatcherOptions {
  /**
   * Targets on loopback, private, link-local or metadata addresses are refused unless
   * allowed here: `true` allows every target, a list allows those hosts. Default false.
   */
  allowPrivateWebhooks?: AllowPrivateWebhooks
  /** Resolves host names (tests, split-horizon DNS). Default: the system resolver. */
  resolve?: ResolveHost
  /** Requests open at once to one receiver (scheme, host and port). Default 4. */
  maxConcurrentPerReceiver?: number
  /** Per-request timeout. Default 5000 ms. */
  timeoutMs?: number
  /** Requests per event, the first included. Default 5. */
  maxAttempts?: number
  /** First backoff ceiling; doubles per attempt. Default 500 ms. */
  baseDelayMs?: number
  /** Largest backoff (also caps a receiver's Retry-After). Default 30000 ms. */
  maxDelayMs?: number
  /** Called once per dispatched event with its final outcome (write it to the audit log). */
  onOutcome?: (outcome: WebhookOutcome) => void
  /** Called after each failed attempt that will be retried. */
  onRetry?: (retry: WebhookRetry) => void
  /**
   * How long `close` waits for deliveries still under way; past it they are abandoned, each
   * reported (`onOutcome`) as not delivered. Default 10000 ms: a shutdown's grace period
   * (30 s under Kubernetes and systemd) must not end before the outcomes are written.
   */
  closeTimeoutMs?: number
}

/** Sends alert events to webhooks in the background. */
export interface WebhookDispatcher {
  /** Queues the delivery and returns at once; never throws, never waits on the network. */
  dispatch(event: AlertEvent, target: WebhookTarget): void
  /** Resolves when every delivery queued so far (and any queued meanwhile) has ended. */
  flush(): Promise<void>
  /**
   * Stops accepting events, then flushes for at most `closeTimeoutMs`; deliveries still under
   * way then are abandoned, reported as not delivered. Later dispatches are reported as not
   * delivered too.
   */
  close(): Promise<void>
  /** Deliveries not yet ended. */
  readonly pending: number
}

// 408, 425 and 429 say "later"; 5xx say "not now". Other 4xx (bad signature, gone...) will not
// change by retrying within seconds, so they end the delivery and are reported.
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500
}

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < (field === 'baseDelayMs' ? 0 : 1)) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: ${value}; give a whole number of ${field === 'maxAttempts' ? 'attempts' : field === 'maxConcurrentPerReceiver' ? 'requests' : 'milliseconds'}.`,
    )
  }
  return value
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

// A network failure's code (ECONNREFUSED...) says what went wrong; keep it in the message.
function describeError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `timed out after ${timeoutMs} ms`
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return typeof code === 'string' && !cause.message.includes(code)
      ? `${code}: ${cause.message}`
      : cause.message
  }
  return String(error)
}

// A counting semaphore per receiver: a burst of alerts (a fleet revoked at once) queues
// instead of opening hundreds of connections to one on-call endpoint.
function receiverSlots(limit: number) {
  const receivers = new Map<string, { active: number; waiting: Array<() => void> }>()
  return {
    async acquire(key: string): Promise<() => void> {
      let slot = receivers.get(key)
      if (!slot) {
        slot = { active: 0, waiting: [] }
        receivers.set(key, slot)
      }
      const current = slot
      if (current.active >= limit) {
        await new Promise<void>((resolve) => current.waiting.push(resolve))
      } else {
        current.active++
      }
      let released = false
      return () => {
        if (released) return
        released = true
        const next = current.waiting.shift()
        // The slot passes straight to the next waiter; otherwise it is freed.
        if (next) next()
        else if (--current.active === 0) receivers.delete(key)
      }
    },
  }
}

/** Waits `ms`, or less when `signal` aborts first. */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })

/**
 * Creates the background webhook sender for alert events.
 *
 * @example
 * const webhooks = createWebhookDispatcher({
 *   onOutcome: (o) => console.log(o.ok ? 'delivered' : `failed: ${o.error}`, o.event.id),
 * })
 * webhooks.dispatch(createAlertEvent({ type: 'threshold', agent: 'researcher-agent-7', spent: 40, spendingCap: 50, thresholdPct: 0.8 }), {
 *   url: 'https://hooks.example.com/killswitch',
 *   secret: process.env.KS_WEBHOOK_SECRET,
 * })
 * await webhooks.close() // on shutdown: waits for pending deliveries
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions = {}): WebhookDispatcher {
  const policy = webhookTargetPolicy(options.allowPrivateWebhooks)
  const resolve = options.resolve ?? systemResolve
  const perReceiver = positiveInteger(
    options.maxConcurrentPerReceiver,
    4,
    'maxConcurrentPerReceiver',
  )
  const slots = receiverSlots(perReceiver)
  const timeoutMs = positiveInteger(options.timeoutMs, 5000, 'timeoutMs')
  const maxAttempts = positiveInteger(options.maxAttempts, 5, 'maxAttempts')
  const baseDelayMs = positiveInteger(options.baseDelayMs, 500, 'baseDelayMs')
  const maxDelayMs = positiveInteger(options.maxDelayMs, 30_000, 'maxDelayMs')
  const closeTimeoutMs = positiveInteger(options.closeTimeoutMs, 10_000, 'closeTimeoutMs')
  const inFlight = new Set<Promise<void>>()
  let closed = false
  // Aborted when close gives up: every attempt, wait and backoff ends at once (red team
  // rt42b: 24 alerts to a receiver that never answered held close for 150 s).
  const abandon = new AbortController()
  const abandoned = (attempts: number) =>
    `abandoned after ${attempts} attempt(s): the kill switch closed ${closeTimeoutMs} ms later, before it was delivered`

  const report = (outcome: WebhookOutcome) => {
    try {
      options.onOutcome?.(outcome)
    } catch {
      // A failing observer must not turn into an unhandled rejection in the background.
    }
  }

  const backoff = (attempt: number, retryAfter: number | undefined) => {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
    const jittered = Math.floor(Math.random() * (ceiling + 1))
    return retryAfter === undefined
      ? jittered
      : Math.max(jittered, Math.min(retryAfter, maxDelayMs))
  }

  async function deliver(event: AlertEvent, target: WebhookTarget & { secret: string }) {
    // Whatever the shape, the signature covers the exact bytes sent.
    const body = formatAlertBody(event, target)
    const url = new URL(target.url)
    const receiver = `${url.protocol}//${url.host}`
    let status: number | undefined
    let error = ''
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'killswitch-webhooks',
        'idempotency-key': event.id,
        'killswitch-event-id': event.id,
        'killswitch-event-type': event.type,
        'killswitch-delivery-attempt': String(attempt),
      }
      let retryAfter: number | undefined
      let retryable = true
      const release = await slots.acquire(receiver)
      if (abandon.signal.aborted) {
        release()
        report({
          event,
          url: target.url,
          ok: false,
          attempts: attempt - 1,
          error: abandoned(attempt - 1),
        })
        return
      }
      // Signed as it is sent, not as it was queued: alerts waiting for a connection (a fleet
      // revoked at once, a slow receiver) would arrive older than the receiver's tolerance
      // and be refused as replays, never to be retried.
      headers[WEBHOOK_SIGNATURE_HEADER] = signWebhookPayload(
        body,
        target.secret,
        Math.floor(Date.now() / 1000),
      )
      try {
        // A redirect is not followed (node:http never does): it would turn the POST into a
        // GET, or send the signed alert somewhere nobody configured.
        const response = await postWebhook(url, {
          headers,
          body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), abandon.signal]),
          resolve,
          policy,
        })
        status = response.status
        if (status >= 200 && status < 300) {
          report({ event, url: target.url, ok: true, attempts: attempt, status })
          return
        }
        retryable = isRetryableStatus(status)
        error =
          status >= 300 && status < 400
            ? `HTTP ${status}: redirects are not followed; configure the final URL`
            : `HTTP ${status}`
        retryAfter = retryAfterMs(response.retryAfter)
      } catch (caught) {
        status = undefined
        if (caught instanceof WebhookTargetRefusedError) {
          // Refused before any connection: one reason, no retry, nothing about the port.
          report({ event, url: target.url, ok: false, attempts: 0, error: REFUSED_TARGET_REASON })
          return
        }
        // A DNS error names the host: shown masked, as every view shows it.
        error = hideWebhookUrl(describeError(caught, timeoutMs), target.url)
      } finally {
        release()
      }
      if (abandon.signal.aborted) {
        report({
          event,
          url: target.url,
          ok: false,
          attempts: attempt,
          status,
          error: abandoned(attempt),
        })
        return
      }
      if (!retryable || attempt === maxAttempts) {
        report({ event, url: target.url, ok: false, attempts: attempt, status, error })
        return
      }
      const delayMs = backoff(attempt, retryAfter)
      try {
        options.onRetry?.({ event, url: target.url, attempt, delayMs, status, error })
      } catch {
        // Observers never break delivery.
      }
      await sleep(delayMs, abandon.signal)
    }
  }

  async function flush(): Promise<void> {
    // Loop: a delivery's outcome handler may dispatch more.
    while (inFlight.size > 0) await Promise.all([...inFlight])
  }

  return {
    dispatch(event, target) {
      const refuse = (error: string) =>
        queueMicrotask(() => report({ event, url: target.url, ok: false, attempts: 0, error }))
      if (closed) return refuse('the webhook dispatcher is closed; the alert was not sent')
      if (!webhookUrlSchema.safeParse(target.url).success) {
        return refuse('the webhook URL is not an absolute http(s) URL')
      }
      const secret = target.secret
      if (!secret) {
        return refuse(
          'the alert has no signing secret and alerts are always signed; set the alert again to give it one',
        )
      }
      // The host as written (IP literals never reach the resolver); names are checked on
      // every address they resolve to, inside the connection.
      const refused = checkWebhookHost(target.url.trim(), policy)
      if (refused !== undefined) return refuse(refused)
      if (target.format === 'pagerduty' && !target.routingKey) {
        return refuse('a PagerDuty alert needs a routing key; set the alert again with one')
      }
      const delivery = deliver(event, { ...target, url: target.url.trim(), secret })
        .catch((caught) => {
          report({
            event,
            url: target.url,
            ok: false,
            attempts: 0,
            error: hideWebhookUrl(String(caught), target.url),
          })
        })
        .finally(() => inFlight.delete(delivery))
      inFlight.add(delivery)
    },
    flush,
    async close() {
      closed = true
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, closeTimeoutMs)
      })
      await Promise.race([flush(), late])
      clearTimeout(timer)
      // Still under way: abandoned, each reported; then they end at once.
      if (inFlight.size > 0) abandon.abort()
      await flush()
    },
    get pending() {
      return inFlight.size
    },
  }
}
