// The operator console, mounted on the admin API's Hono app: the page at `/`, its JSON under
// /console/api, live updates over server-sent events. Behind the same admin token: it is
// entered once in the sign-in form and exchanged for a session of two halves, an HttpOnly,
// SameSite=Strict cookie and a secret the page keeps in sessionStorage and sends in the
// `x-killswitch-session` header; /console/api needs both (console-sessions.ts says why). A
// bearer token works too, for scripts. Every /console route goes through the same Host and
// cross-site checks as /v1 (request-origin.ts), so a state-changing request from another
// site is refused whatever cookie it carries.

import { createHash, timingSafeEqual } from 'node:crypto'
import type { AgentSnapshot, ApprovalSnapshot, KillSwitch } from '@killswitch/core'
import { auditCharge, InvalidConfigError } from '@killswitch/core'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import type { AdminKillSwitch } from '../admin-kill-switch.js'
import { readBody } from '../read-body.js'
import { refuseCrossSite } from '../request-origin.js'
import { isRevokeRequest, readRevokeBody, revokeAnswer } from '../revoke-reason.js'
import { unreconciledCharge } from '../unreconciled-holds.js'
import { AgentWatch } from './agent-watch.js'
import { pageRows, toConsoleRow, usd } from './console-rows.js'
import {
  ConsoleSessions,
  clearedSessionCookie,
  SESSION_HEADER,
  sessionCookie,
  sessionIdFrom,
} from './console-sessions.js'
import { displaySafe, displayText } from './display-text.js'
import { readBudgets } from './spend-left.js'
import { consoleAssets } from './static-assets.js'

/** Options of `mountConsole`. */
export interface ConsoleOptions {
  killSwitch: AdminKillSwitch
  /** The admin token; undefined only when the API runs with `--insecure-no-auth`. */
  token: string | undefined
  /** Host names requests may address (the admin API's set). */
  allowedHosts: ReadonlySet<string>
  /** How often the store is read while a page is open. Default 500 ms. */
  pollIntervalMs?: number
}

const MAX_PAGE_SIZE = 200
const signInBody = z.strictObject({ token: z.string().min(1).max(1_000) })
const capBody = z.strictObject({ spendingCap: z.number() })
const approveBody = z.strictObject({ amount: z.number(), ttlMs: z.number() })
const denyBody = z.strictObject({ reason: z.string().trim().max(500).optional() })

// The page loads nothing from anywhere else and runs no inline script.
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
}

const digest = (value: string) => createHash('sha256').update(value).digest()

function wholeNumber(
  value: string | undefined,
  field: string,
  min: number,
  max: number,
  fallback: number,
) {
  if (value === undefined || value === '') return fallback
  const number = Number(value)
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: "${value}"; give a whole number from ${min} to ${max}.`,
    )
  }
  return number
}

function unauthorized(c: Context) {
  return c.json(
    { error: { code: 'unauthorized', message: 'Sign in with the admin token first.' } },
    401,
  )
}

/**
 * Adds the console's routes to the admin API's app (before its not-found handler).
 *
 * @example
 * mountConsole(app, { killSwitch: ks, token: options.token, allowedHosts })
 */
export function mountConsole(app: Hono, options: ConsoleOptions): void {
  const ks = options.killSwitch as AdminKillSwitch & { approvals?: KillSwitch['approvals'] }
  const sessions = new ConsoleSessions()
  const watch = new AgentWatch(ks, { intervalMs: options.pollIntervalMs ?? 500 })
  const expected = options.token === undefined ? undefined : digest(options.token)
  const isToken = (given: string) =>
    expected !== undefined && timingSafeEqual(digest(given), expected)
  // An agent's row with the budgets it draws on: what it can really spend, its budget bars.
  const rowOf = async (agent: AgentSnapshot) => toConsoleRow(agent, await readBudgets(ks, [agent]))

  const signedIn = (c: Context): boolean => {
    if (expected === undefined) return true
    // The cookie alone never signs in: the browser sends it to every server on this host.
    const id = sessionIdFrom(c.req.header('cookie'))
    if (sessions.check(id, c.req.header(SESSION_HEADER))) return true
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1]
    return bearer !== undefined && isToken(bearer)
  }

  const guard: MiddlewareHandler = async (c, next) => {
    const refused = refuseCrossSite(
      c.req.method,
      (name) => c.req.header(name),
      options.allowedHosts,
      new URL(c.req.url).host,
    )
    if (refused !== undefined)
      return c.json({ error: { code: 'forbidden', message: refused } }, 403)
    await next()
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value)
  }
  const requireSession: MiddlewareHandler = async (c, next) =>
    signedIn(c) ? next() : unauthorized(c)

  app.use('/', guard)
  app.use('/console/*', guard)
  const limitBody = bodyLimit({
    maxSize: 16 * 1024,
    onError: (c) =>
      c.json(
        { error: { code: 'invalid_config', message: 'The request body exceeds 16 KiB.' } },
        413,
      ),
  })
  // A revoke's body is optional: one too big is ignored (no reason), never a 413.
  app.use('/console/*', (c, next) =>
    isRevokeRequest(c.req.method, c.req.path) ? next() : limitBody(c, next),
  )
  app.use('/console/api/*', requireSession)

  const asset = (name: string) => (c: Context) => {
    const file = consoleAssets().get(name)
    if (!file) return c.notFound()
    return c.body(file.body, 200, { 'Content-Type': file.type })
  }
  app.get('/', asset('index.html'))
  app.get('/console/app.js', asset('app.js'))
  app.get('/console/app.css', asset('app.css'))

  app.post('/console/session', async (c) => {
    if (expected === undefined) return c.json({ auth: 'none' })
    const { token } = signInBody.parse(await readBody(c, 'form-or-json'))
    if (!isToken(token)) {
      return c.json(
        {
          error: { code: 'unauthorized', message: 'That is not the admin token.', field: 'token' },
        },
        401,
      )
    }
    const secure = new URL(c.req.url).protocol === 'https:'
    const session = sessions.create()
    c.header('Set-Cookie', sessionCookie(session.id, secure))
    // The secret half: the page keeps it in sessionStorage and sends it in SESSION_HEADER.
    return c.json({ auth: 'session', session: session.secret })
  })

  app.post('/console/session/end', (c) => {
    // Ending a session takes both halves too: a replayed cookie cannot sign the operator out.
    const id = sessionIdFrom(c.req.header('cookie'))
    if (sessions.check(id, c.req.header(SESSION_HEADER))) sessions.end(id)
    c.header('Set-Cookie', clearedSessionCookie())
    return c.json({ auth: 'signed_out' })
  })

  app.get('/console/api/session', (c) =>
    c.json({ auth: expected === undefined ? 'none' : 'session' }),
  )

  app.get('/console/api/agents', async (c) => {
    const order = c.req.query('order')
    const { rows, version } = await watch.snapshot()
    const page = pageRows(rows, {
      q: c.req.query('q') ?? '',
      order: order === 'spent' || order === 'percent' || order === 'handle' ? order : 'listed',
      page: wholeNumber(c.req.query('page'), 'page', 1, 1_000_000, 1),
      pageSize: wholeNumber(c.req.query('pageSize'), 'pageSize', 1, MAX_PAGE_SIZE, 50),
    })
    await watch.seed(page.rows.map((row) => row.handle))
    return c.json({
      ...page,
      version,
      rows: page.rows.map((row) => ({ ...row, ...watch.rateView(row.handle) })),
    })
  })

  app.get('/console/api/agents/:handle', async (c) => {
    const agent = await ks.agents.get(c.req.param('handle'))
    await watch.seed([agent.handle])
    return c.json({
      agent: { ...(await rowOf(agent)), ...watch.rateView(agent.handle) },
      createdAt: agent.createdAt,
      ...(agent.revokedAt === undefined ? {} : { revokedAt: agent.revokedAt }),
      grants: agent.grants,
    })
  })

  app.get('/console/api/agents/:handle/audit', async (c) => {
    const limit = wholeNumber(c.req.query('limit'), 'limit', 1, 500, 100)
    const beforeText = c.req.query('before')
    const before =
      beforeText === undefined
        ? undefined
        : wholeNumber(beforeText, 'before', 0, Number.MAX_SAFE_INTEGER, 0)
    const entries = await ks.audit(c.req.param('handle'), {
      limit,
      ...(before === undefined ? {} : { before }),
    })
    const oldest = entries[0]?.seq
    return c.json({
      // Summaries and data quote what the agent sent (tool names, descriptions): escaped.
      // Each with what it charged (core's one rule: a late settlement replaces its lapse's
      // charge), so the page's chart sums to the agent's spend.
      // An unreconciled charge with its hold id, as `killswitch reconcile` takes it.
      entries: entries.map((entry) => {
        const unreconciled = unreconciledCharge(entry)
        return displaySafe({
          ...entry,
          at: new Date(entry.at).toISOString(),
          charge: auditCharge(entry),
          ...(unreconciled
            ? { unreconciled: { holdId: unreconciled.holdId, charged: usd(unreconciled.charged) } }
            : {}),
        })
      }),
      ...(entries.length === limit && oldest !== undefined ? { before: oldest } : {}),
    })
  })

  app.post('/console/api/agents/:handle/revoke', async (c) => {
    // Read leniently: whatever the body, the agent is revoked (the default reason when it
    // gives no usable one); only the handle, the session and the Origin checks refuse.
    const { reason } = await readRevokeBody(c.req.raw)
    // As /v1 answers: a revoke of a revoked agent keeps its first reason, so the page must
    // say the operator's note was not recorded (the store's answer to this revoke).
    const { status, ...answer } = await revokeAnswer(ks, c.req.param('handle'), {
      reason: reason ?? 'revoked in the console (no reason given)',
      by: 'console',
    })
    void watch.poll().catch(() => {})
    return c.json({ ...answer, agent: await rowOf(answer.agent) }, status)
  })

  app.patch('/console/api/agents/:handle', async (c) => {
    const body = capBody.parse(await readBody(c, 'json'))
    const agent = await ks.agents.update(c.req.param('handle'), body)
    void watch.poll().catch(() => {})
    return c.json({ agent: await rowOf(agent) })
  })

  const approvalsApi = () => {
    if (!ks.approvals)
      throw new InvalidConfigError('approvals', 'This kill switch has no approvals API.')
    return ks.approvals
  }

  app.get('/console/api/approvals', async (c) => c.json(await watch.approvals()))

  // A decision, answered with what was decided; or, when the request was decided first
  // elsewhere (the CLI, /v1, a link, its agent revoked), 409 saying by whom and how, so the
  // page can say the operator's decision was not recorded.
  const decide = async (c: Context, make: (id: string) => Promise<ApprovalSnapshot>) => {
    const id = c.req.param('id') ?? ''
    try {
      const approval = await make(id)
      void watch.poll().catch(() => {})
      return c.json({
        approval: {
          ...displaySafe(approval),
          ...(approval.grant ? { grantText: usd(approval.grant.amount) } : {}),
        },
      })
    } catch (error) {
      const current = await approvalsApi()
        .get(id)
        .catch(() => undefined)
      if (current === undefined || current.status === 'pending') throw error
      const by = current.decidedBy === undefined ? '' : ` by ${current.decidedBy}`
      const why = current.decisionReason ? ` (${current.decisionReason})` : ''
      const message = displayText(
        `The request by ${current.handle} for ${usd(current.requested)} was ${current.status} already${by}${why}: your decision was not recorded.`,
      )
      return c.json(
        { error: { code: 'already_decided', message }, approval: displaySafe(current) },
        409,
      )
    }
  }

  app.post('/console/api/approvals/:id/approve', async (c) => {
    const body = approveBody.parse(await readBody(c, 'json'))
    return decide(c, (id) => approvalsApi().approve(id, { ...body, by: 'console' }))
  })

  app.post('/console/api/approvals/:id/deny', async (c) => {
    const { reason } = denyBody.parse(await readBody(c, 'json', { allowEmpty: true }))
    return decide(c, (id) =>
      approvalsApi().deny(id, { ...(reason ? { reason } : {}), by: 'console' }),
    )
  })

  // Live updates: the agents that changed since the last poll, pushed as they are seen.
  app.get('/console/api/events', (c) =>
    streamSSE(c, async (stream) => {
      let end = () => {}
      const ended = new Promise<void>((resolve) => {
        end = resolve
        stream.onAbort(resolve)
      })
      // The baseline: the first poll after this reports changes, not every agent.
      await watch.rows().catch(() => {})
      const unsubscribe = watch.subscribe((update) => {
        // A session ended (signed out, expired) ends its stream: the page then asks again.
        if (!signedIn(c)) return end()
        void stream.writeSSE({ event: 'update', data: JSON.stringify(update) }).catch(() => {})
      })
      const keepAlive = setInterval(
        () => void stream.write(': keep-alive\n\n').catch(() => {}),
        15_000,
      )
      try {
        // The page re-reads what it shows once subscribed, so nothing between is missed.
        await stream.writeSSE({ event: 'ready', data: '{}' })
        await ended
      } finally {
        clearInterval(keepAlive)
        unsubscribe()
      }
    }),
  )
}
