// Errors in each API's own JSON shape, so the official SDKs raise their usual error classes
// (openai.AuthenticationError on 401, Anthropic's RateLimitError on 429...). Refusals carry
// `x-should-retry: false`: both SDKs honour it, and retrying a revoked credential or a spent
// cap only repeats the refusal.
import { findKillSwitchError, type KillSwitchError } from '@killswitch/core'

/** Which API's error shape to speak. */
export type ApiFamily = 'openai' | 'anthropic'

/** An error the gateway answers with: an HTTP status, a stable code and a message. */
export interface GatewayError {
  status: number
  /** The kill switch's error code, or the gateway's own (`upstream_unreachable`...). */
  code: string
  message: string
  /** The request field the error is about (OpenAI's `error.param`), when there is one. */
  param?: string
  /** False: `x-should-retry: false` on a 5xx too (a retry would pay again). */
  retry?: false
}

/** Maps anything thrown while serving a request to what the agent is told. */
export function toGatewayError(error: unknown): GatewayError {
  // First: its cause may be the revocation that aborted the payment, and the agent must
  // learn that it paid, not only that it was revoked.
  if (isPaymentOutcomeUnknown(error)) return paymentOutcomeUnknown(error)
  const known: KillSwitchError | undefined = findKillSwitchError(error)
  if (known) return { status: known.status, code: known.code, message: known.message }
  if (isGatewayError(error)) return error
  // A bug or an unexpected failure: its details go to the log, never to the agent.
  return { status: 500, code: 'gateway_error', message: 'The gateway failed to serve the request.' }
}

/**
 * @killswitch/x402's PaymentOutcomeUnknownError, from the x402 route's paying fetch: a signed
 * payment left and no answer came back. Known by its code: the gateway does not depend on
 * that package (the paying fetch is the operator's).
 */
function isPaymentOutcomeUnknown(error: unknown): error is Error & { amountUsd?: unknown } {
  return error instanceof Error && (error as { code?: unknown }).code === 'payment_outcome_unknown'
}

/**
 * The payment went out and may have been collected, so it was charged to the agent: a 502
 * (the payee failed to answer), not the 500 of a gateway bug, and never retried blindly.
 */
function paymentOutcomeUnknown(error: { amountUsd?: unknown }): GatewayError {
  const { amountUsd } = error
  const amount =
    typeof amountUsd === 'number' && Number.isFinite(amountUsd) ? ` of $${amountUsd}` : ''
  return {
    status: 502,
    code: 'payment_outcome_unknown',
    message: `The payment${amount} was sent, but no answer came back. The payee can still collect it, so it was charged to the agent's cap. Do not retry blindly: a retry pays again.`,
    retry: false,
  }
}

/** The gateway could not reach the model provider (no answer at all). */
export function upstreamUnreachable(): GatewayError {
  return {
    status: 502,
    code: 'upstream_unreachable',
    message: 'The gateway could not reach the model provider.',
  }
}

/** The model provider broke off its answer. */
export function upstreamBrokeOff(): GatewayError {
  return {
    status: 502,
    code: 'upstream_failed',
    message: 'The model provider broke off its response.',
  }
}

/** A 3xx, or the opaque redirect a browser-style fetch returns (status 0) under 'manual'. */
export function isRedirect(response: Response): boolean {
  return response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)
}

/**
 * The provider answered with a redirect. It is never followed: fetch would send the request
 * (and the provider key in `x-api-key`) on to wherever it points. The request had reached
 * the provider, so it is charged as any other upstream error is.
 */
export function upstreamRedirected(): GatewayError {
  return {
    status: 502,
    code: 'upstream_redirected',
    message: 'The model provider answered with a redirect, which the gateway does not follow.',
  }
}

/**
 * The provider refused the gateway's own key (401, 403): the agent cannot fix that, and the
 * provider's message may quote part of the key, so it is not passed on.
 */
export function upstreamAuthFailed(): GatewayError {
  return {
    status: 502,
    code: 'upstream_auth_failed',
    message:
      'The model provider refused the gateway: the gateway operator must check its provider key.',
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  const record = value as Partial<GatewayError> | null
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.status === 'number' &&
    typeof record.code === 'string' &&
    typeof record.message === 'string' &&
    !(value instanceof Error)
  )
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  402: 'insufficient_quota',
  404: 'invalid_request_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_exceeded',
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
}

/** The OpenAI error object: `{ message, type, param, code }`. */
export function openaiErrorObject(error: GatewayError) {
  const type = OPENAI_TYPES[error.status] ?? 'server_error'
  return { message: error.message, type, param: error.param ?? null, code: error.code }
}

/** The body of an error response in the API's shape. */
export function errorBody(family: ApiFamily, error: GatewayError): unknown {
  if (family === 'openai') return { error: openaiErrorObject(error) }
  return {
    type: 'error',
    error: { type: ANTHROPIC_TYPES[error.status] ?? 'api_error', message: error.message },
  }
}

/** An error response in the API's shape. */
export function errorResponse(family: ApiFamily, error: GatewayError): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  // Policy refusals and bad requests do not get better with a retry; a payment that may
  // have been collected is not repeated.
  if (error.status < 500 || error.retry === false) headers['x-should-retry'] = 'false'
  return new Response(JSON.stringify(errorBody(family, error)), { status: error.status, headers })
}
