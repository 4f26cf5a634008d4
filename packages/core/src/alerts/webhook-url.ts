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
 * paths and queries often hold the receiver's own secret (Slack, Discord, `?token=`), and
 * a generated host label is masked too (Pipedream's `<id>.m.pipedream.net`).
 *
 * @example
 * redactWebhookUrl('https://hooks.slack.com/services/T0/B0/xyz') // 'https://hooks.slack.com/…'
 */
export function redactWebhookUrl(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)'
  const parsed = new URL(url)
  const rest = parsed.pathname === '/' && parsed.search === '' ? '' : '/…'
  return `${parsed.protocol}//${maskedHost(parsed)}${rest}`
}

const MASK = '***'

// A host label that looks generated rather than named: letters mixed with digits
// (Pipedream's `eo1a2b3c4d5e6f7`, a tunnel's subdomain), or very long. Such a host is
// the receiver's secret itself: anyone who knows it can post to it.
function looksGenerated(label: string): boolean {
  if (label.length >= 20) return true
  return label.length >= 8 && /[0-9]/.test(label) && /[A-Za-z]/.test(label)
}

/**
 * `text` (a delivery's error) with the webhook URL and its host as every view shows them:
 * a DNS error names the host, which may be the receiver's secret (Pipedream).
 */
export function hideWebhookUrl(text: string, url: string): string {
  if (!URL.canParse(url)) return text
  const parsed = new URL(url)
  const host = maskedHost(parsed)
  let hidden = text.replaceAll(url, redactWebhookUrl(url))
  if (host !== parsed.host && parsed.hostname !== '') {
    hidden = hidden.replaceAll(parsed.hostname, host.replace(/:\d+$/, ''))
  }
  return hidden
}

// The host and port, each generated label masked; an IP address is shown as is.
function maskedHost(parsed: URL): string {
  const { hostname, port } = parsed
  const ip = hostname.startsWith('[') || /^[0-9.]+$/.test(hostname)
  const host = ip
    ? hostname
    : hostname
        .split('.')
        .map((label) => (looksGenerated(label) ? MASK : label))
        .join('.')
  return port === '' ? host : `${host}:${port}`
}

// The first path segment names the kind of endpoint (`services`, `hooks`, `api`, `v2`):
// shown, unless it looks like an id or a token itself.
function looksLikeId(segment: string): boolean {
  if (segment.length >= 24) return true
  return segment.length >= 8 && /[0-9]/.test(segment)
}

/**
 * A webhook URL as every view shows it (`agents get`, `agents list`, the CLI, the admin
 * API): the scheme, the host (generated labels masked), the port and the first path
 * segment; the user name and password, everything past the first path segment and every
 * query value are replaced by `***`, the fragment dropped. Webhook services put their
 * secret anywhere past the host (Slack's `/services/T../B../<token>`, Zapier's
 * `/hooks/catch/<id>/<key>/`, IFTTT's `/trigger/<event>/with/key/<key>`) or in the host
 * (Pipedream): no part of it is shown. Enough to tell kinds of rules apart, nothing to
 * replay.
 *
 * @example
 * maskWebhookUrl('https://u:pw@hooks.example.com/ks?token=abc') // 'https://***@hooks.example.com/ks?token=***'
 * maskWebhookUrl('https://hooks.slack.com/services/T0/B0/xyz') // 'https://hooks.slack.com/services/***'
 */
export function maskWebhookUrl(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)'
  const parsed = new URL(url)
  const userinfo = parsed.username !== '' || parsed.password !== '' ? '***@' : ''
  // pathname is '/' or '/first[/rest]'.
  const [, first = '', ...rest] = parsed.pathname.split('/')
  const shownFirst = first === '' || !looksLikeId(first) ? first : MASK
  const more = rest.join('/')
  const path =
    parsed.pathname === '/'
      ? ''
      : `/${shownFirst}${rest.length === 0 ? '' : more === '' ? '/' : `/${MASK}`}`
  const keys = [...new Set(parsed.searchParams.keys())]
  const query =
    parsed.search === ''
      ? ''
      : `?${keys.map((key) => `${encodeURIComponent(key)}=${MASK}`).join('&')}`
  return `${parsed.protocol}//${userinfo}${maskedHost(parsed)}${path}${query}`
}
