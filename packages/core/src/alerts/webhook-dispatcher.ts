// Delivers alert webhooks off the hot path. `dispatch` only queues a promise and returns:
// a guarded model call never waits for on-call's receiver. Delivery is at-least-once: each
// event keeps its id across retries (receivers de-duplicate on it), retries back off
// exponentially with full jitter (so a fleet does not stampede a receiver that comes back),
// every attempt is re-signed with a fresh timestamp (a retry minutes later still verifies),
// and `flush` lets a graceful shutdown wait for what is still in flight.

import { InvalidConfigError } from '../errors.js'
import type { AlertEvent } from './alert-event.js'
import { signWebhookPayload, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js'
import { webhookUrlSchema } from './webhook-url.js'

/** Where one alert goes. */
export interface WebhookTarget {
  url: string
  /** Signing secret; when absent the request is sent unsigned. */
  secret?: string
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
  /** The fetch to use (tests, proxies). Default: the global fetch. */
  fetch?: typeof fetch
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
}

/** Sends alert events to webhooks in the background. */
export interface WebhookDispatcher {
  /** Queues the delivery and returns at once; never throws, never waits on the network. */
  dispatch(event: AlertEvent, target: WebhookTarget): void
  /** Resolves when every delivery queued so far (and any queued meanwhile) has ended. */
  flush(): Promise<void>
  /** Stops accepting events, then flushes. Later dispatches are reported as not delivered. */
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
      `Invalid ${field}: ${value}; give a whole number of ${field === 'maxAttempts' ? 'attempts' : 'milliseconds'}.`,
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

// fetch wraps network failures in `TypeError: fetch failed` with the real reason in `cause`.
function describeError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `timed out after ${timeoutMs} ms`
  }
  const cause = error instanceof Error ? error.cause : undefined
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message
  }
  return error instanceof Error ? error.message : String(error)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

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
  const fetchImpl = options.fetch ?? globalThis.fetch
  const timeoutMs = positiveInteger(options.timeoutMs, 5000, 'timeoutMs')
  const maxAttempts = positiveInteger(options.maxAttempts, 5, 'maxAttempts')
  const baseDelayMs = positiveInteger(options.baseDelayMs, 500, 'baseDelayMs')
  const maxDelayMs = positiveInteger(options.maxDelayMs, 30_000, 'maxDelayMs')
  const inFlight = new Set<Promise<void>>()
  let closed = false

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

  async function deliver(event: AlertEvent, target: WebhookTarget): Promise<void> {
    const body = JSON.stringify(event)
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
      if (target.secret) {
        headers[WEBHOOK_SIGNATURE_HEADER] = signWebhookPayload(
          body,
          target.secret,
          Math.floor(Date.now() / 1000),
        )
      }
      let retryAfter: number | undefined
      let retryable = true
      try {
        const response = await fetchImpl(target.url, {
          method: 'POST',
          headers,
          body,
          // A redirect is not followed: it would turn the POST into a GET, or send the
          // signed alert somewhere nobody configured.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        })
        status = response.status
        // Read the body so the connection is released (bounded by the same timeout).
        await response.arrayBuffer().catch(() => undefined)
        if (response.ok) {
          report({ event, url: target.url, ok: true, attempts: attempt, status })
          return
        }
        retryable = isRetryableStatus(status)
        error =
          status >= 300 && status < 400
            ? `HTTP ${status}: redirects are not followed; configure the final URL`
            : `HTTP ${status}`
        retryAfter = retryAfterMs(response.headers.get('retry-after'))
      } catch (caught) {
        status = undefined
        error = describeError(caught, timeoutMs)
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
      await sleep(delayMs)
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
      const delivery = deliver(event, target)
        .catch((caught) => {
          report({ event, url: target.url, ok: false, attempts: 0, error: String(caught) })
        })
        .finally(() => inFlight.delete(delivery))
      inFlight.add(delivery)
    },
    flush,
    async close() {
      closed = true
      await flush()
    },
    get pending() {
      return inFlight.size
    },
  }
}
