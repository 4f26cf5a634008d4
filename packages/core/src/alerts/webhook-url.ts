// Alert webhooks leave the process with spend data on them, so only absolute http(s) URLs
// are accepted: `file:`, `data:`, `javascript:` or a relative path are typos or attacks,
// never a receiver. Validated when the rule is set, so a bad URL fails loudly at config
// time and not silently at 2 AM when the threshold is crossed.

import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'

export function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false
  const { protocol, hostname } = new URL(value)
  return (protocol === 'http:' || protocol === 'https:') && hostname !== ''
}

/**
 * The zod schema of a webhook URL: an absolute `http:` or `https:` URL.
 *
 * @example
 * const rule = z.object({ webhookUrl: webhookUrlSchema, thresholdPct: z.number() })
 * rule.parse({ webhookUrl: 'ftp://example.com', thresholdPct: 0.8 }) // throws, names webhookUrl
 */
export const webhookUrlSchema = z
  .string({
    error: 'must be a string: an http(s) URL such as https://hooks.example.com/killswitch',
  })
  .trim()
  .refine(isHttpUrl, {
    error: 'must be an absolute http(s) URL such as https://hooks.example.com/killswitch',
  })

/**
 * Checks a webhook URL and returns it (trimmed), or throws an InvalidConfigError that names
 * the field, what was given and what is allowed.
 *
 * @example
 * validateWebhookUrl(input.webhookUrl)              // field `webhookUrl`
 * validateWebhookUrl(url, 'alerts[0].webhookUrl')   // a nested field
 */
export function validateWebhookUrl(value: unknown, field = 'webhookUrl'): string {
  const result = webhookUrlSchema.safeParse(value)
  if (result.success) return result.data
  throw new InvalidConfigError(
    field,
    `Invalid ${field}: got ${describeInvalid(value)}; it must be an absolute http(s) URL such as https://hooks.example.com/killswitch.`,
  )
}

// Webhook URLs often carry their own secret (Slack's path, a `?token=` query), so an error
// never echoes the value: only what kind of thing it was.
function describeInvalid(value: unknown): string {
  if (typeof value !== 'string') return value === null ? 'null' : typeof value
  if (value.trim() === '') return 'an empty string'
  if (!URL.canParse(value.trim())) return 'a string that is not an absolute URL'
  return `a URL with the scheme "${new URL(value.trim()).protocol}"`
}

/**
 * A webhook URL reduced to its scheme and host, for logs, audit entries and listings:
 * paths and queries often hold the receiver's own secret (Slack, Discord, `?token=`).
 *
 * @example
 * redactWebhookUrl('https://hooks.slack.com/services/T0/B0/xyz') // 'https://hooks.slack.com/…'
 */
export function redactWebhookUrl(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)'
  const parsed = new URL(url)
  const rest = parsed.pathname === '/' && parsed.search === '' ? '' : '/…'
  return `${parsed.protocol}//${parsed.host}${rest}`
}

// A path segment that looks like a token: long, and letters mixed with digits (Slack's
// `/services/T0/B0/<token>`, Discord's `/webhooks/<id>/<token>`), or very long.
function looksLikeToken(segment: string): boolean {
  if (segment.length >= 32) return true
  return segment.length >= 16 && /[0-9]/.test(segment) && /[A-Za-z]/.test(segment)
}

/**
 * A webhook URL as every view shows it (`agents get`, `agents list`, the CLI, the admin
 * API): the user name and password, every query value and token-like path segments are
 * replaced by `***`, the fragment dropped. Enough to tell rules apart, nothing to replay.
 *
 * @example
 * maskWebhookUrl('https://u:pw@hooks.example.com/ks?token=abc') // 'https://***@hooks.example.com/ks?token=***'
 */
export function maskWebhookUrl(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)'
  const parsed = new URL(url)
  const userinfo = parsed.username !== '' || parsed.password !== '' ? '***@' : ''
  const path = parsed.pathname
    .split('/')
    .map((segment) => (looksLikeToken(segment) ? '***' : segment))
    .join('/')
  const keys = [...new Set(parsed.searchParams.keys())]
  const query =
    parsed.search === '' ? '' : `?${keys.map((key) => `${encodeURIComponent(key)}=***`).join('&')}`
  return `${parsed.protocol}//${userinfo}${parsed.host}${path === '/' && query === '' ? '' : path}${query}`
}
