// One-click approval links: the `approval_requested` webhook carries an approve URL and a
// deny URL that a person can open from Slack, PagerDuty or a phone. Each URL is signed with
// HMAC-SHA256 over (approval id, action, expiry) with a secret shared by the process that
// sends the webhook and the server that answers the link (`killswitch serve`), so a link
// cannot be turned from deny into approve, pointed at another request, or used after it
// expires. Using a link never acts on GET (scanners prefetch links): the server shows a
// confirmation page whose button POSTs; the store decides a request once, so a second use
// answers that it was already decided.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidConfigError } from '../errors.js'
import { isHttpUrl } from './webhook-url.js'

/** Where approval links point and what signs them (`createKillSwitch({ approvalLinks })`). */
export interface ApprovalLinksOptions {
  /**
   * The public base URL of `killswitch serve` as a person's browser reaches it, e.g.
   * `https://killswitch.example.com`. Links are `<baseUrl>/approval-links/<id>/<action>?...`.
   */
  baseUrl: string
  /** The HMAC secret, at least 32 characters; `serve` is given the same one. */
  secret: string
}

/** What a link does. */
export type ApprovalLinkAction = 'approve' | 'deny'

/** How long a one-click approve's grant lasts unless `serve` is told otherwise: one hour. */
export const DEFAULT_APPROVAL_LINK_GRANT_TTL_MS = 3_600_000

/** The path prefix `serve` answers links on. */
export const APPROVAL_LINK_PATH = '/approval-links'

const MIN_SECRET_LENGTH = 32
const SIGNATURE_HEX_LENGTH = 64

/** Checks the options; throws InvalidConfigError naming the field. */
export function checkApprovalLinksOptions(options: ApprovalLinksOptions): ApprovalLinksOptions {
  if (typeof options?.baseUrl !== 'string' || !isHttpUrl(options.baseUrl.trim())) {
    throw new InvalidConfigError(
      'approvalLinks.baseUrl',
      'Invalid approvalLinks.baseUrl: give the absolute http(s) URL that reaches `killswitch serve`, e.g. https://killswitch.example.com.',
    )
  }
  checkApprovalLinkSecret(options.secret, 'approvalLinks.secret')
  return { baseUrl: options.baseUrl.trim().replace(/\/+$/, ''), secret: options.secret }
}

/** Refuses a missing or short link secret, naming the field. */
export function checkApprovalLinkSecret(secret: unknown, field: string): asserts secret is string {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: an approval link secret of at least ${MIN_SECRET_LENGTH} characters is required; generate one with \`openssl rand -hex 32\`.`,
    )
  }
}

function mac(secret: string, id: string, action: ApprovalLinkAction, expiresSec: number): string {
  // Newline-separated and versioned: no field can bleed into another.
  return createHmac('sha256', secret)
    .update(`killswitch-approval-link:v1\n${id}\n${action}\n${expiresSec}`)
    .digest('hex')
}

/**
 * The signed URL that approves or denies one request, valid until `expiresAt` (ms).
 *
 * @example
 * approvalLinkUrl({ baseUrl: 'https://ks.example.com', secret }, 'apr_1', 'approve', Date.parse(event.expiresAt))
 */
export function approvalLinkUrl(
  options: ApprovalLinksOptions,
  id: string,
  action: ApprovalLinkAction,
  expiresAt: number,
): string {
  const expiresSec = Math.ceil(expiresAt / 1000)
  const url = new URL(
    `${options.baseUrl.replace(/\/+$/, '')}${APPROVAL_LINK_PATH}/${encodeURIComponent(id)}/${action}`,
  )
  url.searchParams.set('exp', String(expiresSec))
  url.searchParams.set('sig', mac(options.secret, id, action, expiresSec))
  return url.toString()
}

/** Why a link is refused, or `ok`. */
export type ApprovalLinkCheck = 'ok' | 'expired' | 'invalid'

/**
 * Checks a link's signature (constant-time) and expiry. `invalid` for anything tampered
 * with or malformed; `expired` only for a genuine link past its expiry.
 *
 * @example
 * verifyApprovalLink(secret, { id, action, exp: url.searchParams.get('exp'), sig: url.searchParams.get('sig') }, Date.now())
 */
export function verifyApprovalLink(
  secret: string,
  link: {
    id: string
    action: string
    exp: string | undefined | null
    sig: string | undefined | null
  },
  now: number,
): ApprovalLinkCheck {
  if (link.action !== 'approve' && link.action !== 'deny') return 'invalid'
  if (typeof link.exp !== 'string' || !/^\d{1,12}$/.test(link.exp)) return 'invalid'
  if (typeof link.sig !== 'string' || !/^[0-9a-f]+$/.test(link.sig)) return 'invalid'
  if (link.sig.length !== SIGNATURE_HEX_LENGTH) return 'invalid'
  const expected = Buffer.from(mac(secret, link.id, link.action, Number(link.exp)), 'hex')
  const given = Buffer.from(link.sig, 'hex')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid'
  return Number(link.exp) * 1000 <= now ? 'expired' : 'ok'
}
