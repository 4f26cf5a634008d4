// Webhooks are signed the way Stripe signs its events: an HMAC-SHA256 over
// "<unix seconds>.<raw body>", sent as `Killswitch-Signature: t=<seconds>,v1=<hex>`. The
// timestamp is inside the MAC, so a captured request cannot be replayed after the tolerance
// window; several v1 values may appear (secret rotation) and any one matching is enough.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidConfigError } from '../errors.js'

/**
 * The header that carries the signature.
 *
 * @example
 * const header = request.headers.get(WEBHOOK_SIGNATURE_HEADER)
 */
export const WEBHOOK_SIGNATURE_HEADER = 'Killswitch-Signature'

/**
 * The default tolerance for the signature's timestamp, in seconds (either direction).
 *
 * @example
 * verifyWebhookSignature(body, header, secret, { toleranceSec: DEFAULT_SIGNATURE_TOLERANCE_SEC })
 */
export const DEFAULT_SIGNATURE_TOLERANCE_SEC = 300

function hmacHex(body: string | Uint8Array, secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')
}

function requireSecret(secret: unknown): asserts secret is string {
  // An empty secret would make every signature forgeable: refuse instead of "verifying".
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new InvalidConfigError('secret', 'The webhook signing secret must be a non-empty string.')
  }
}

/**
 * Signs a webhook body and returns the `Killswitch-Signature` header value:
 * `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
 *
 * @param body the exact bytes sent (the JSON string)
 * @param timestamp unix seconds
 * @example
 * const header = signWebhookPayload(body, secret, Math.floor(Date.now() / 1000))
 * await fetch(url, { method: 'POST', body, headers: { 'Killswitch-Signature': header } })
 */
export function signWebhookPayload(
  body: string | Uint8Array,
  secret: string,
  timestamp: number,
): string {
  requireSecret(secret)
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidConfigError('timestamp', 'The signature timestamp must be whole unix seconds.')
  }
  return `t=${timestamp},v1=${hmacHex(body, secret, timestamp)}`
}

/** Options of `verifyWebhookSignature`. */
export interface VerifyWebhookSignatureOptions {
  /** How far (seconds) the timestamp may be from now, either way. Default 300. */
  toleranceSec?: number
  /** The current time in unix seconds (for tests). Default: the clock. */
  now?: number
}

/**
 * Verifies a webhook's `Killswitch-Signature` header against the RAW request body (the
 * bytes received, before any JSON parsing: re-serialised JSON does not match).
 *
 * Returns `true` only when a `v1` signature matches (timing-safe compare) and the timestamp
 * is within `toleranceSec` of now. Returns `false` for anything else: a missing, malformed,
 * stale or forged header. It throws only for a programming error: an empty `secret`.
 *
 * @example
 * // in a receiver (node:http, Express with express.raw(), Hono's c.req.text()...)
 * const raw = await readBody(req)
 * if (!verifyWebhookSignature(raw, req.headers['killswitch-signature'], process.env.KS_WEBHOOK_SECRET!)) {
 *   res.writeHead(400).end('bad signature')
 *   return
 * }
 * const event = JSON.parse(raw) // AlertEvent; de-duplicate on event.id
 */
export function verifyWebhookSignature(
  body: string | Uint8Array,
  header: string | null | undefined,
  secret: string,
  options: VerifyWebhookSignatureOptions = {},
): boolean {
  requireSecret(secret)
  const toleranceSec = options.toleranceSec ?? DEFAULT_SIGNATURE_TOLERANCE_SEC
  const now = options.now ?? Math.floor(Date.now() / 1000)
  // NaN would pass every age check: a replayed signature of any age would verify.
  if (typeof toleranceSec !== 'number' || !Number.isFinite(toleranceSec) || toleranceSec < 0) {
    throw new InvalidConfigError(
      'toleranceSec',
      `Invalid toleranceSec: a number of seconds >= 0 (got ${String(toleranceSec)}); leave it out for the default of ${DEFAULT_SIGNATURE_TOLERANCE_SEC}.`,
    )
  }
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidConfigError(
      'now',
      `Invalid now: the current time in seconds since the epoch (got ${String(now)}); leave it out to use the clock.`,
    )
  }
  if (typeof header !== 'string' || header.length === 0) return false

  let timestamp: number | undefined
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const index = part.indexOf('=')
    if (index < 0) continue
    const key = part.slice(0, index).trim()
    const value = part.slice(index + 1).trim()
    if (key === 't' && /^\d{1,15}$/.test(value)) timestamp = Number(value)
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase())
  }
  if (timestamp === undefined || signatures.length === 0) return false
  if (Math.abs(now - timestamp) > toleranceSec) return false

  const expected = Buffer.from(hmacHex(body, secret, timestamp), 'hex')
  let matched = false
  // Compare against every candidate (no early exit) so timing says nothing about which matched.
  for (const signature of signatures) {
    if (timingSafeEqual(expected, Buffer.from(signature, 'hex'))) matched = true
  }
  return matched
}
