// The admin HTTP API: the CLI's operations as JSON REST on Hono, plus RFC 7662 token
// introspection for downstream services that must honour revocation. Every route but
// /healthz needs a bearer token; errors are `{ error: { code, message, field? } }` with the
// kill switch's own codes and statuses, so a client branches on `code`, never on prose.
// Whatever the auth mode, /v1 requests must address this machine or a configured host, and
// state-changing ones must not come from another site (request-origin.ts). Nothing shaped
// like a credential is echoed in an error or the access log (the credential `POST
// /v1/agents` returns, once, is the one exception: that is its purpose).

import { createHash, timingSafeEqual } from 'node:crypto'
import { findKillSwitchError, InvalidConfigError, redactCredentials } from '@killswitch/core'
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import type { AdminKillSwitch } from './admin-kill-switch.js'
import { type ApprovalLinkRoutesOptions, mountApprovalLinks } from './approval-link-routes.js'
import { mountConsole } from './console/console-routes.js'
import { readBody } from './read-body.js'
import { allowedHostSet, refuseCrossSite } from './request-origin.js'
import { isRevokeRequest, readRevokeBody, revokeAnswer } from './revoke-reason.js'
import { escapeControls } from './terminal-style.js'

/** Options of `createAdminApi`. */
export interface AdminApiOptions {
  killSwitch: AdminKillSwitch
  /** The admin bearer token. Required unless `insecureNoAuth`. */
  token?: string
  /**
   * A second token that may ONLY call `POST /v1/introspect`: give it to downstream services
   * instead of the admin token.
   */
  introspectionToken?: string
  /** Serve without authentication (local development on loopback only; `serve` enforces it). */
  insecureNoAuth?: boolean
  /** Access log sink: one line per request (method, path, status, ms). Never headers or bodies. */
  log?: (line: string) => void
  /**
   * Host names (besides localhost, 127.0.0.0/8 and ::1) that requests may address in their
   * Host header: the address the server is bound to, and names it is reached by. Any other
   * Host is refused with 403 (DNS rebinding).
   */
  allowedHosts?: readonly string[]
  /**
   * Serve the one-click approval links of `approval_requested` webhooks at
   * `/approval-links/...`: the secret the sending kill switch signs them with
   * (`createKillSwitch({ approvalLinks: { baseUrl, secret } })`), and the grant's TTL.
   */
  approvalLinks?: ApprovalLinkRoutesOptions
}

const MIN_TOKEN_LENGTH = 16
/** The audit log's reason for a revoke through the API that gave no usable one. */
const DEFAULT_API_REVOKE_REASON = 'revoked through the admin API'

const handleParam = z.string().min(1)
const WINDOWS = ['minute', 'hour', 'day', 'week', 'month', 'lifetime'] as const
// Checked in full by the core (payee addresses, dollars): here only its shape.
const spendRulesBody = z.strictObject({
  allowedPayees: z.array(z.string()).optional(),
  maxSpendUsd: z.number().optional(),
})
const createAgentBody = z.strictObject({
  handle: handleParam,
  spendingCap: z.number(),
  currency: z.literal('usd').optional(),
  limits: z.array(z.strictObject({ amount: z.number(), per: z.enum(WINDOWS) })).optional(),
  budgets: z.array(z.string()).optional(),
  approvals: z.strictObject({ enabled: z.boolean(), waitMs: z.number().optional() }).optional(),
  spendRules: spendRulesBody.optional(),
})
// Checked in full by the core (a budget needs a limit, one per window): here only its shape.
const limitsBody = z.array(z.strictObject({ amount: z.number(), per: z.enum(WINDOWS) }))
const updateAgentBody = z.strictObject({
  spendingCap: z.number().optional(),
  limits: limitsBody.optional(),
  budgets: z.array(z.string()).optional(),
  approvals: z.strictObject({ enabled: z.boolean(), waitMs: z.number().optional() }).optional(),
  /** Replaces the agent's spend rules whole; `{}` removes them. */
  spendRules: spendRulesBody.optional(),
})
const createBudgetBody = z.strictObject({
  id: z.string(),
  limits: limitsBody,
  timeZone: z.string().optional(),
})
const updateBudgetBody = z.strictObject({
  limits: limitsBody.optional(),
  timeZone: z.string().optional(),
})
const approveBody = z.strictObject({
  amount: z.number(),
  ttlMs: z.number(),
  by: z.string().min(1).max(200).optional(),
  reason: z.string().max(500).optional(),
})
const denyBody = z.strictObject({
  reason: z.string().max(500).optional(),
  by: z.string().min(1).max(200).optional(),
})
const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired'] as const
const setAlertBody = z.strictObject({
  thresholdPct: z.number(),
  webhookUrl: z.string(),
  secret: z.string().min(1).optional(),
  format: z.enum(['json', 'slack', 'pagerduty']).optional(),
  routingKey: z.string().min(1).max(128).optional(),
})
const introspectBody = z.object({ token: z.string(), token_type_hint: z.string().optional() })

const digest = (value: string) => createHash('sha256').update(value).digest()

// Comparing digests keeps the comparison constant-time even when the lengths differ.
function tokenMatcher(tokens: ReadonlyArray<string | undefined>): (given: string) => boolean {
  const expected = tokens.filter((t): t is string => t !== undefined).map(digest)
  return (given) => {
    const candidate = digest(given)
    let matched = false
    for (const want of expected) if (timingSafeEqual(candidate, want)) matched = true
    return matched
  }
}

function checkToken(value: string | undefined, field: string): void {
  // A bearer token is one run of non-space characters: one holding whitespace (the trailing
  // newline of `echo`, a pasted space) could never authenticate.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (value !== undefined && /[\s\u0000-\u001f\u007f]/.test(value)) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    const atEdgesOnly = !/[\s\u0000-\u001f\u007f]/.test(value.trim())
    throw new InvalidConfigError(
      field,
      atEdgesOnly
        ? `The ${field} ends or starts with whitespace (a trailing newline from echo or a file?), which no "Authorization: Bearer" header can carry: strip the trailing newline (echo -n, or KILLSWITCH_ADMIN_TOKEN=$(cat token-file), which drops it).`
        : `The ${field} contains whitespace or control characters, which no "Authorization: Bearer" header can carry: use a token without spaces, e.g. one from \`openssl rand -hex 32\`.`,
    )
  }
  // Beyond ASCII, clients disagree on the header's bytes (curl sends UTF-8, fetch Latin-1 or
  // refuses), so such a token authenticates from some clients and never from others. The
  // error names where, never the character: the token is a secret.
  const outside = value === undefined ? -1 : value.search(/[^\x21-\x7e]/)
  if (outside >= 0) {
    throw new InvalidConfigError(
      field,
      `The ${field} has a character outside printable ASCII (character ${outside + 1}), which HTTP clients send as different bytes: curl and most others could never authenticate with it. Use printable ASCII only, e.g. a token from \`openssl rand -hex 32\`.`,
    )
  }
  if (value !== undefined && value.length < MIN_TOKEN_LENGTH) {
    throw new InvalidConfigError(
      field,
      `The ${field} must be at least ${MIN_TOKEN_LENGTH} characters; generate one with \`openssl rand -hex 32\`.`,
    )
  }
}

/**
 * The request's path for the access log: as sent, percent-encoded, with agent credentials and
 * this server's own tokens (`secrets`: an admin token pasted into a URL was logged whole)
 * redacted. One hidden by percent-encoding (`ks_%61...`) is still found: then the decoded
 * path is logged, redacted, re-encoded.
 */
function loggedPath(c: Context, secrets: readonly string[]): string {
  // As given and as a URL encodes it (a token may hold characters it escapes).
  const hide = (path: string) => hideSecrets(redactCredentials(path), secrets)
  const raw = new URL(c.req.url).pathname
  const redacted = hide(raw)
  if (hide(c.req.path) === c.req.path || decodesClean(redacted, hide)) return redacted
  try {
    return hide(encodeURI(c.req.path))
  } catch {
    return '[a path holding a secret]'
  }
}

/** `text` with each of `secrets` (as given, and as a URL encodes it) redacted. */
function hideSecrets(text: string, secrets: readonly string[]): string {
  const forms = secrets.flatMap((secret) => [secret, encodeURI(secret), encodeURIComponent(secret)])
  return forms.reduce((shown, secret) => shown.replaceAll(secret, '[redacted]'), text)
}

/** Whether `path`, percent-decoded, still holds nothing `hide` would hide. */
function decodesClean(path: string, hide: (text: string) => string): boolean {
  try {
    const decoded = decodeURIComponent(path)
    return hide(decoded) === decoded
  } catch {
    return false
  }
}

function errorBody(code: string, message: string, field?: string) {
  // An error may quote the request (a path, a field): never a credential in it.
  const safe = redactCredentials(message)
  return { error: field === undefined ? { code, message: safe } : { code, message: safe, field } }
}

/**
 * Creates the admin API as a Hono app (serve it with `startAdminServer`, or mount it).
 *
 * @example
 * const app = createAdminApi({ killSwitch: ks, token: process.env.KILLSWITCH_ADMIN_TOKEN })
 * serve({ fetch: app.fetch, port: 8787, hostname: '127.0.0.1' })
 */
export function createAdminApi(options: AdminApiOptions): Hono {
  const ks = options.killSwitch
  if (options.token === undefined && !options.insecureNoAuth) {
    throw new InvalidConfigError(
      'token',
      'The admin API needs an admin token (KILLSWITCH_ADMIN_TOKEN or --token); only local development may run it with --insecure-no-auth.',
    )
  }
  checkToken(options.token, 'token')
  checkToken(options.introspectionToken, 'introspectionToken')
  if (options.introspectionToken !== undefined && options.introspectionToken === options.token) {
    // The introspection token is handed to services that only verify credentials: the same
    // value would give each of them the admin's power to revoke, raise caps, approve.
    throw new InvalidConfigError(
      'introspectionToken',
      'The introspectionToken is the admin token: give services that only verify credentials a token of their own (e.g. `openssl rand -hex 32`).',
    )
  }
  const noAuth = options.token === undefined
  const isAdmin = tokenMatcher([options.token])
  const mayIntrospect = tokenMatcher([options.token, options.introspectionToken])
  const secrets = [options.token, options.introspectionToken].filter(
    (token): token is string => token !== undefined,
  )

  const requireToken =
    (matches: (token: string) => boolean): MiddlewareHandler =>
    async (c, next) => {
      if (noAuth) return next()
      const header = c.req.header('authorization') ?? ''
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (!match?.[1] || !matches(match[1])) {
        c.header('WWW-Authenticate', 'Bearer realm="killswitch"')
        return c.json(
          errorBody(
            'unauthorized',
            'Missing or wrong bearer token: send "Authorization: Bearer <admin token>".',
          ),
          401,
        )
      }
      return next()
    }

  const app = new Hono()
  const allowedHosts = allowedHostSet(options.allowedHosts ?? [])

  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    // Method, path and status only: never headers (the token) or bodies (credentials), and
    // a credential pasted into the path is redacted. The path as sent, still percent-encoded
    // (Hono's c.req.path is decoded: %0A would forge a line, %1b reach the terminal), and any
    // control character left shown as an escape: one request, one line.
    options.log?.(
      escapeControls(
        `${c.req.method} ${loggedPath(c, secrets)} ${c.res.status} ${(performance.now() - started).toFixed(1)}ms`,
      ),
    )
  })
  app.use('*', async (c, next) => {
    await next()
    // An error answer may quote the request (a handle, a path): never this server's own
    // tokens, which an operator pasted into a URL (red team rt40: a 404 echoed the admin
    // token whole, though the access log redacted it). Error answers only: they are small.
    if (c.res.status >= 400 && secrets.length > 0) {
      const body = await c.res.clone().text()
      const hidden = hideSecrets(body, secrets)
      if (hidden !== body) c.res = new Response(hidden, c.res)
    }
  })
  app.use('*', async (c, next) => {
    await next()
    // Agent state and introspection answers change the moment an agent is revoked.
    c.header('Cache-Control', 'no-store')
  })
  const limitBody = bodyLimit({
    maxSize: 64 * 1024,
    onError: (c) => c.json(errorBody('invalid_config', 'The request body exceeds 64 KiB.'), 413),
  })
  // A revoke's body is optional: one too big is ignored (no reason), never a 413.
  app.use('/v1/*', (c, next) =>
    isRevokeRequest(c.req.method, c.req.path) ? next() : limitBody(c, next),
  )
  // Before auth: a rebound or cross-site request is refused whatever token it carries.
  app.use('/v1/*', async (c, next) => {
    const refused = refuseCrossSite(
      c.req.method,
      (name) => c.req.header(name),
      allowedHosts,
      new URL(c.req.url).host,
    )
    if (refused !== undefined) return c.json(errorBody('forbidden', refused), 403)
    return next()
  })
  app.use('/v1/agents', requireToken(isAdmin))
  app.use('/v1/agents/*', requireToken(isAdmin))
  app.use('/v1/budgets', requireToken(isAdmin))
  app.use('/v1/budgets/*', requireToken(isAdmin))
  app.use('/v1/approvals', requireToken(isAdmin))
  app.use('/v1/approvals/*', requireToken(isAdmin))
  app.use('/v1/introspect', requireToken(mayIntrospect))

  app.get('/healthz', (c) => c.json({ ok: true }))

  app.get('/v1/agents', async (c) => {
    const agents = await ks.agents.list()
    return c.json({ agents: agents })
  })

  app.post('/v1/agents', async (c) => {
    const body = createAgentBody.parse(await readBody(c, 'json'))
    const created = await ks.agents.create(body)
    // The one response that carries the credential: it is never retrievable again.
    return c.json(created, 201)
  })

  app.get('/v1/agents/:handle', async (c) => {
    return c.json(await ks.agents.get(pathHandle(c)))
  })

  app.patch('/v1/agents/:handle', async (c) => {
    const handle = pathHandle(c)
    const body = updateAgentBody.parse(await readBody(c, 'json'))
    if (Object.keys(body).length === 0) {
      throw new InvalidConfigError(
        'spendingCap',
        'Nothing to change: give spendingCap, limits, budgets, approvals or spendRules.',
      )
    }
    return c.json(await ks.agents.update(handle, body))
  })

  app.post('/v1/agents/:handle/alerts', async (c) => {
    const handle = pathHandle(c)
    const body = setAlertBody.parse(await readBody(c, 'json'))
    return c.json(await ks.agents.setAlert(handle, body))
  })

  app.post('/v1/agents/:handle/revoke', async (c) => {
    const handle = pathHandle(c)
    // Read leniently: no body, a body that is not JSON, a reason or `by` that is not a usable
    // string or extra fields revoke all the same, with the defaults (never a 400).
    const { reason, by } = await readRevokeBody(c.req.raw)
    const started = performance.now()
    // Whether it was revoked already is the store's answer to this revoke: no read before it
    // (which a revoke elsewhere could race, and a store outage would lose).
    const { status, ...answer } = await revokeAnswer(ks, handle, {
      reason: reason ?? DEFAULT_API_REVOKE_REASON,
      by: by ?? 'admin-api',
    })
    const tookMs = Number((performance.now() - started).toFixed(3))
    return c.json({ ...answer, tookMs }, status)
  })

  // Paged by the store: `?limit=` the most recent entries, `?before=<seq>` the page before.
  app.get('/v1/agents/:handle/audit', async (c) => {
    const limit = parseLimit(c.req.query('limit'), 'limit')
    const before = parseLimit(c.req.query('before'), 'before')
    const entries = await ks.audit(pathHandle(c), {
      ...(limit === undefined ? {} : { limit }),
      ...(before === undefined ? {} : { before }),
    })
    return c.json({
      entries: entries.map((entry) => ({ ...entry, at: new Date(entry.at).toISOString() })),
    })
  })

  app.get('/v1/budgets', async (c) => c.json({ budgets: await ks.budgets.list() }))

  app.post('/v1/budgets', async (c) => {
    const body = createBudgetBody.parse(await readBody(c, 'json'))
    return c.json(await ks.budgets.create(body), 201)
  })

  app.get('/v1/budgets/:id', async (c) => c.json(await ks.budgets.get(c.req.param('id'))))

  app.patch('/v1/budgets/:id', async (c) => {
    const body = updateBudgetBody.parse(await readBody(c, 'json'))
    return c.json(await ks.budgets.update(c.req.param('id'), body))
  })

  app.get('/v1/approvals', async (c) => {
    const status = c.req.query('status')
    if (status !== undefined && !(APPROVAL_STATUSES as readonly string[]).includes(status)) {
      throw new InvalidConfigError(
        'status',
        `Invalid status: "${status}"; give one of ${APPROVAL_STATUSES.join(', ')}.`,
      )
    }
    const approvals = await ks.approvals.list(
      status === undefined ? {} : { status: status as (typeof APPROVAL_STATUSES)[number] },
    )
    return c.json({ approvals })
  })

  app.get('/v1/approvals/:id', async (c) => c.json(await ks.approvals.get(c.req.param('id'))))

  app.post('/v1/approvals/:id/approve', async (c) => {
    const body = approveBody.parse(await readBody(c, 'json'))
    return c.json(
      await ks.approvals.approve(c.req.param('id'), { ...body, by: body.by ?? 'admin-api' }),
    )
  })

  app.post('/v1/approvals/:id/deny', async (c) => {
    const body = denyBody.parse(await readBody(c, 'json', { allowEmpty: true }))
    return c.json(
      await ks.approvals.deny(c.req.param('id'), { ...body, by: body.by ?? 'admin-api' }),
    )
  })

  // RFC 7662: form-encoded (the standard) or JSON `token`. Inactive answers carry nothing
  // else, so the endpoint does not tell an unknown credential from a revoked one.
  app.post('/v1/introspect', async (c) => {
    const { token } = introspectBody.parse(await readBody(c, 'form-or-json'))
    const result = await verifyOrInactive(ks, token)
    if (!result.active) return c.json({ active: false })
    return c.json({ ...result, active: true, sub: result.handle, token_type: 'killswitch_agent' })
  })

  if (options.approvalLinks) mountApprovalLinks(app, ks, options.approvalLinks, allowedHosts)

  // The operator console at `/` (console/): same token, same Host and cross-site checks.
  mountConsole(app, { killSwitch: ks, token: options.token, allowedHosts })

  app.notFound((c) =>
    c.json(errorBody('not_found', `No route ${c.req.method} ${c.req.path}. See the README.`), 404),
  )

  app.onError((error, c) => errorResponse(c, error, options.log))
  return app
}

/**
 * The `:handle` of the path, surrounding whitespace dropped (a handle pasted with a space,
 * sent as %20): a revoke never refuses to fire for it. Handles hold none.
 */
function pathHandle(c: Context): string {
  return c.req.param('handle')?.trim() ?? ''
}

function parseLimit(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined
  const limit = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidConfigError(field, `Invalid ${field}: "${value}"; give a whole number from 1.`)
  }
  return limit
}

async function verifyOrInactive(ks: AdminKillSwitch, token: string) {
  try {
    return await ks.verify(token)
  } catch (error) {
    // A malformed or revoked credential is "not active"; a store outage is not an answer.
    if (findKillSwitchError(error)?.code === 'agent_revoked') return { active: false }
    throw error
  }
}

function describeZodError(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]
  if (issue === undefined) return { field: 'body', message: 'The request body is invalid.' }
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path, issue.keys[0] ?? ''].join('.')
    return {
      field,
      message: `Unknown field "${field}": check its spelling (fields are camelCase).`,
    }
  }
  const field = issue.path.length > 0 ? issue.path.join('.') : 'body'
  const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message)
  return {
    field,
    message: missing ? `${field} is required.` : `Invalid ${field}: ${issue.message}.`,
  }
}

function errorResponse(c: Context, error: unknown, log?: (line: string) => void) {
  if (error instanceof z.ZodError) {
    const { field, message } = describeZodError(error)
    return c.json(errorBody('invalid_config', message, field), 400)
  }
  const known = findKillSwitchError(error)
  if (known) {
    const field = 'field' in known && typeof known.field === 'string' ? known.field : undefined
    return c.json(errorBody(known.code, known.message, field), known.status as ContentfulStatusCode)
  }
  log?.(
    redactCredentials(
      `internal error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    ),
  )
  return c.json(errorBody('internal_error', 'Internal error; see the server log.'), 500)
}
