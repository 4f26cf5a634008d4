// The one-click approval links of `approval_requested` webhooks, served by `killswitch
// serve`. The link's HMAC (over request id, action and expiry, with the secret shared with
// the process that sent the webhook) is the authorisation: no admin token is asked of the
// person on call. So:
// - GET never acts: link scanners and chat previews fetch links. It shows what the button
//   will do (for an approve: the requested amount, for the grant TTL) and a form that POSTs;
// - POST acts once: the store decides a request once, a second use answers that it was
//   already decided; an expired or tampered link is refused before anything is read;
// - the Host and cross-site checks of the admin API apply (the page's own form is
//   same-origin), the page cannot be framed (clickjacking a one-click approve), and the
//   signed URL is not leaked in a Referer.

import {
  APPROVAL_LINK_PATH,
  type ApprovalLinkAction,
  checkApprovalLinkSecret,
  DEFAULT_APPROVAL_LINK_GRANT_TTL_MS,
  findKillSwitchError,
  formatUsd,
  GRANT_TTL_BOUNDS_MS,
  InvalidConfigError,
  verifyApprovalLink,
} from '@killswitch/core'
import type { Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AdminKillSwitch, ApprovalView } from './admin-kill-switch.js'
import { refuseCrossSite } from './request-origin.js'

/** Options of the approval link routes (`createAdminApi({ approvalLinks })`). */
export interface ApprovalLinkRoutesOptions {
  /** The secret the sending kill switch signs links with (`approvalLinks.secret`). */
  secret: string
  /** How long a one-click approve's grant lasts. Default one hour. */
  grantTtlMs?: number
}

const escapeHtml = (text: string) =>
  text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')

/** "1 hour", "30 minutes", "2 days": the grant's TTL as the page states it. */
export function describeDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1_000, 'second'],
  ]
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) {
      const count = ms / size
      return `${count} ${name}${count === 1 ? '' : 's'}`
    }
  }
  return `${ms} ms`
}

function page(c: Context, status: ContentfulStatusCode, title: string, body: string) {
  c.header(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  )
  c.header('X-Frame-Options', 'DENY')
  // Not `no-referrer`: under it a browser sends `Origin: null` with the page's own form, and
  // the cross-site check refused every click (red team rt42b). `same-origin` still keeps the
  // signed URL from any other site.
  c.header('Referrer-Policy', 'same-origin')
  c.header('X-Content-Type-Options', 'nosniff')
  return c.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}dt{font-weight:600}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    status,
  )
}

function details(approval: ApprovalView): string {
  return `<dl><dt>Agent</dt><dd>${escapeHtml(approval.handle)}</dd><dt>Asked for</dt><dd>${escapeHtml(formatUsd(approval.requested))} past its cap</dd><dt>Reason</dt><dd>${escapeHtml(approval.reason)}</dd><dt>Request</dt><dd>${escapeHtml(approval.id)} (expires ${escapeHtml(approval.expiresAt)})</dd></dl>`
}

const already = (c: Context, approval: ApprovalView) =>
  page(
    c,
    409,
    'Already decided',
    `<p>This request was already ${escapeHtml(approval.status)}${approval.decidedBy ? ` by ${escapeHtml(approval.decidedBy)}` : ''}: a request is decided once.</p>${details(approval)}`,
  )

/** Mounts `GET|POST /approval-links/:id/:action` on the admin API. */
export function mountApprovalLinks(
  app: Hono,
  ks: AdminKillSwitch,
  options: ApprovalLinkRoutesOptions,
  allowedHosts: ReadonlySet<string>,
): void {
  checkApprovalLinkSecret(options.secret, 'approvalLinks.secret')
  const grantTtlMs = options.grantTtlMs ?? DEFAULT_APPROVAL_LINK_GRANT_TTL_MS
  // Checked when mounted: a grant the core would refuse must not be offered on every page.
  const { min, max } = GRANT_TTL_BOUNDS_MS
  if (!Number.isInteger(grantTtlMs) || grantTtlMs < min || grantTtlMs > max) {
    throw new InvalidConfigError(
      'approvalLinks.grantTtlMs',
      `Invalid approvalLinks.grantTtlMs: whole milliseconds from ${min} to ${max} (7 days), the grants approvals.approve takes (got ${String(grantTtlMs)}).`,
    )
  }
  const path = `${APPROVAL_LINK_PATH}/:id/:action`

  // The same checks as /v1: a rebound Host or a cross-site POST is refused whatever it carries.
  app.use(`${APPROVAL_LINK_PATH}/*`, async (c, next) => {
    const refused = refuseCrossSite(
      c.req.method,
      (name) => c.req.header(name),
      allowedHosts,
      new URL(c.req.url).host,
    )
    if (refused !== undefined) return page(c, 403, 'Refused', `<p>${escapeHtml(refused)}</p>`)
    return next()
  })

  // Checks the link; answers the refusal page, or undefined when it is genuine and live.
  const check = (c: Context) => {
    const link = {
      id: c.req.param('id') ?? '',
      action: c.req.param('action') ?? '',
      exp: c.req.query('exp'),
      sig: c.req.query('sig'),
    }
    const verdict = verifyApprovalLink(options.secret, link, Date.now())
    if (verdict === 'invalid') {
      return page(
        c,
        403,
        'Invalid link',
        '<p>This approval link is not valid: it was changed or was not issued by this kill switch. Decide with <code>killswitch approvals</code>.</p>',
      )
    }
    if (verdict === 'expired') {
      return page(
        c,
        410,
        'Link expired',
        '<p>This approval link has expired, and so has the request it was for. The agent may ask again.</p>',
      )
    }
    return undefined
  }

  const load = async (id: string) => {
    try {
      return await ks.approvals.get(id)
    } catch (error) {
      // No such request, or an id that could not be one: the same page either way.
      const code = findKillSwitchError(error)?.code
      if (code === 'approval_not_found' || code === 'invalid_config') return undefined
      throw error
    }
  }

  const what = (action: ApprovalLinkAction, approval: ApprovalView) =>
    action === 'approve'
      ? `Approve: ${approval.handle} may spend up to ${formatUsd(approval.requested)} more, for ${describeDuration(grantTtlMs)}.`
      : `Deny: the waiting call of ${approval.handle} fails, and nothing more is spent.`

  // The form posts back to this very URL (its signed query included); nothing happens until
  // then. It carries the amount it shows: a request grows while calls join it, and a person
  // approves what they read, never more.
  // It asks who decides: anyone the link reaches can use it, and the audit log must say who
  // did (red team rt42b: every decision read "by approval-link").
  const confirm = (c: Context, action: ApprovalLinkAction, approval: ApprovalView, note = '') =>
    page(
      c,
      200,
      action === 'approve' ? 'Approve this spend?' : 'Deny this spend?',
      `${note}<p>${escapeHtml(what(action, approval))}</p>${details(approval)}<form method="post">${action === 'approve' ? `<input type="hidden" name="shown" value="${escapeHtml(String(approval.requested))}">` : ''}<p><label>Your name (recorded with the decision) <input name="by" required maxlength="100" autocomplete="name"></label></p><button type="submit">${action === 'approve' ? `Approve ${escapeHtml(formatUsd(approval.requested))} for ${escapeHtml(describeDuration(grantTtlMs))}` : 'Deny'}</button></form>`,
    )
  const notice = (text: string) => `<p class="notice">${escapeHtml(text)}</p>`

  app.get(path, async (c) => {
    const refused = check(c)
    if (refused) return refused
    const action = c.req.param('action') as ApprovalLinkAction
    const approval = await load(c.req.param('id') ?? '')
    if (!approval) return page(c, 404, 'Not found', '<p>No such approval request.</p>')
    if (approval.status !== 'pending') return already(c, approval)
    return confirm(c, action, approval)
  })

  app.post(path, async (c) => {
    const refused = check(c)
    if (refused) return refused
    const id = c.req.param('id') ?? ''
    const action = c.req.param('action') as ApprovalLinkAction
    const approval = await load(id)
    if (!approval) return page(c, 404, 'Not found', '<p>No such approval request.</p>')
    if (approval.status !== 'pending') return already(c, approval)
    const body: Record<string, unknown> = await c.req.parseBody().catch(() => ({}))
    if (action === 'approve') {
      const shown = Number(body.shown)
      // More calls joined the request since its page was shown (or the page showed none):
      // shown again at what it asks now, nothing decided (red team rt27's joined requests).
      if (!(shown >= approval.requested)) {
        const note = Number.isFinite(shown)
          ? notice(
              `The request grew from ${formatUsd(shown)} to ${formatUsd(approval.requested)} since this page was shown (more calls are waiting on it): nothing was approved. Approve again to grant what it asks now.`,
            )
          : ''
        return confirm(c, action, approval, note)
      }
    }
    const name = typeof body.by === 'string' ? body.by.trim() : ''
    if (name === '') {
      return confirm(c, action, approval, notice('Give your name: nothing was decided.'))
    }
    // Who, as they said, and from where: the page's client address and browser.
    const by = `${name} (approval link)`
    const from = `from ${clientAddress(c)}, ${c.req.header('user-agent')?.slice(0, 120) ?? 'no user agent'}`
    try {
      const decided =
        action === 'approve'
          ? await ks.approvals.approve(id, {
              amount: approval.requested,
              ttlMs: grantTtlMs,
              by,
              reason: `approved through its link ${from}`,
            })
          : await ks.approvals.deny(id, { by, reason: `denied through its link ${from}` })
      return page(
        c,
        200,
        decided.status === 'approved' ? 'Approved' : 'Denied',
        `<p>${escapeHtml(
          decided.status === 'approved'
            ? `${decided.handle} may spend up to ${formatUsd(decided.grant?.amount ?? 0)} more until ${decided.grant?.expiresAt}.`
            : `${decided.handle}'s request was denied.`,
        )}</p>${details(decided)}`,
      )
    } catch (error) {
      // A name the audit log may not hold (a pasted secret, control characters): said.
      const refused = findKillSwitchError(error)
      if (refused?.code === 'invalid_config' && (refused as { field?: string }).field === 'by') {
        return confirm(c, action, approval, notice(`${refused.message} Nothing was decided.`))
      }
      // Another click (or operator) decided it between our read and our write: the store
      // took one decision only.
      const now = await load(id)
      if (now && now.status !== 'pending') return already(c, now)
      throw error
    }
  })
}

/** The address the request came from (its TCP peer: a proxy's, behind one). */
function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)
    ?.incoming
  return incoming?.socket?.remoteAddress ?? 'an unknown address'
}
