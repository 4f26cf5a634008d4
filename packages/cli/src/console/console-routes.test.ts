// The console's HTTP surface without a browser: sign-in and its cookie, the same Host and
// cross-site refusals as /v1 on every route, paging, revocation, cap edits, approvals and
// the event stream.
import { createKillSwitch, type KillSwitch } from '@killswitch/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createAdminApi } from '../admin-api.js'
import type { AdminKillSwitch } from '../admin-kill-switch.js'
import { revokedJustBefore, revokedUnreplicated } from '../test-helpers.js'

const TOKEN = 'console-routes-token-0123456789'
const ORIGIN = 'http://127.0.0.1:8787'

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON came back
const json = (response: Response): Promise<any> => response.json()

const open: KillSwitch[] = []
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close()
})

function setup(
  options: { insecureNoAuth?: boolean; serve?: (ks: KillSwitch) => AdminKillSwitch } = {},
) {
  const ks = createKillSwitch({ runaway: false })
  open.push(ks)
  // What the console is handed: the kill switch, or one wrapped around it (a race).
  const killSwitch = options.serve?.(ks) ?? ks
  const app = createAdminApi(
    options.insecureNoAuth ? { killSwitch, insecureNoAuth: true } : { killSwitch, token: TOKEN },
  )
  const request = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const headers = new Headers(init.headers)
    if (!headers.has('host')) headers.set('host', '127.0.0.1:8787')
    let body = init.body
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(init.json)
    }
    return app.fetch(new Request(`${ORIGIN}${path}`, { ...init, headers, body }))
  }
  const signIn = async () => {
    const response = await request('/console/session', {
      method: 'POST',
      json: { token: TOKEN },
      headers: { origin: ORIGIN },
    })
    expect(response.status).toBe(200)
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    const { session } = await json(response)
    // Both halves: the cookie and the secret the page sends in a header.
    return { cookie, 'x-killswitch-session': session as string }
  }
  return { ks, request, signIn }
}

describe('console routes', () => {
  it('serves the page and its assets with a strict content security policy', async () => {
    const { request } = setup()
    const page = await request('/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    const html = await page.text()
    expect(html).toContain('<label for="token">Admin token</label>')
    expect(html).not.toContain('<script>')
    // A native submit (before app.js runs) posts: the token never lands in a URL or history,
    // and the field is not offered to the password manager.
    expect(html).toContain('<form id="sign-in-form" method="post" action="/console/session">')
    expect(html).toMatch(/<input id="token"[^>]* autocomplete="off"/)
    const script = await request('/console/app.js')
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await script.text()).toContain('x-killswitch-session')
  })

  it('signs in with the admin token for an HttpOnly, SameSite=Strict session cookie', async () => {
    const { request, signIn } = setup()
    expect((await request('/console/api/agents')).status).toBe(401)
    const wrong = await request('/console/session', {
      method: 'POST',
      json: { token: 'wrong-token-but-long-enough' },
      headers: { origin: ORIGIN },
    })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()

    const response = await request('/console/session', {
      method: 'POST',
      json: { token: TOKEN },
      headers: { origin: ORIGIN },
    })
    const setCookie = response.headers.get('set-cookie') ?? ''
    expect(setCookie).toMatch(
      /^ks_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    )
    expect(setCookie).not.toContain(TOKEN)

    const session = await signIn()
    expect((await request('/console/api/agents', { headers: session })).status).toBe(200)
    expect(session['x-killswitch-session']).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // The bearer token works too (scripts), and a made-up session does not.
    expect(
      (await request('/console/api/agents', { headers: { authorization: `Bearer ${TOKEN}` } }))
        .status,
    ).toBe(200)
    expect(
      (await request('/console/api/agents', { headers: { cookie: 'ks_console=made-up' } })).status,
    ).toBe(401)

    // Signing out ends the session on the server, not just in the browser.
    await request('/console/session/end', {
      method: 'POST',
      headers: { ...session, origin: ORIGIN },
    })
    expect((await request('/console/api/agents', { headers: session })).status).toBe(401)
  })

  it('refuses the session cookie alone: another server on this host may have been sent it', async () => {
    const { ks, request, signIn } = setup()
    await ks.agents.create({ handle: 'victim', spendingCap: 5 })
    await ks.agents.create({
      handle: 'asker',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
    })
    await ks.store.openApproval({
      id: 'apr_replay',
      handle: 'asker',
      requestedMicros: 2_000_000,
      reason: 'past its cap',
      ttlMs: 3_600_000,
      now: Date.now(),
    })
    const { cookie, 'x-killswitch-session': secret } = await signIn()
    // What a server on another port replays: the cookie, no header, no Origin.
    const replays: Array<[string, RequestInit & { json?: unknown }]> = [
      ['/console/api/agents', {}],
      ['/console/api/events', {}],
      [
        '/console/api/approvals/apr_replay/approve',
        { method: 'POST', json: { amount: 1000, ttlMs: 86_400_000 } },
      ],
      ['/console/api/agents/victim', { method: 'PATCH', json: { spendingCap: 1_000_000 } }],
      ['/console/api/agents/victim/revoke', { method: 'POST', json: {} }],
    ]
    for (const [path, init] of replays) {
      const wrongSecret = { cookie, 'x-killswitch-session': 'x'.repeat(43) }
      for (const headers of [{ cookie }, wrongSecret] as Record<string, string>[]) {
        const response = await request(path, { ...init, headers })
        expect({ path, status: response.status }).toEqual({ path, status: 401 })
      }
    }
    // The secret alone is no better (another session's cookie, or none).
    expect(
      (await request('/console/api/agents', { headers: { 'x-killswitch-session': secret } }))
        .status,
    ).toBe(401)
    // A replayed cookie cannot sign the operator out either.
    await request('/console/session/end', { method: 'POST', headers: { cookie, origin: ORIGIN } })
    expect(
      (
        await request('/console/api/agents', {
          headers: { cookie, 'x-killswitch-session': secret },
        })
      ).status,
    ).toBe(200)
    // Nothing changed.
    expect(await ks.agents.get('victim')).toMatchObject({ status: 'active', spendingCap: 5 })
    expect(await ks.approvals.get('apr_replay')).toMatchObject({ status: 'pending' })
  })

  it('refuses cross-site and rebound requests on every console route, whatever the cookie', async () => {
    const { ks, request, signIn } = setup()
    await ks.agents.create({ handle: 'a', spendingCap: 5 })
    const session = await signIn()
    const crossSite = await request('/console/api/agents/a/revoke', {
      method: 'POST',
      json: {},
      headers: { ...session, origin: 'https://evil.example' },
    })
    expect(crossSite.status).toBe(403)
    const fetchSite = await request('/console/api/agents/a/revoke', {
      method: 'POST',
      json: {},
      headers: { ...session, 'sec-fetch-site': 'cross-site' },
    })
    expect(fetchSite.status).toBe(403)
    const signInFromElsewhere = await request('/console/session', {
      method: 'POST',
      json: { token: TOKEN },
      headers: { origin: 'https://evil.example' },
    })
    expect(signInFromElsewhere.status).toBe(403)
    expect((await request('/', { headers: { host: 'rebound.example' } })).status).toBe(403)
    expect((await ks.agents.get('a')).status).toBe('active')
  })

  it('revokes whatever the body: a reason that is not usable means the default reason', async () => {
    const { ks, request, signIn } = setup()
    const session = await signIn()
    const headers = { ...session, origin: ORIGIN }
    const DEFAULT_REASON = 'revoked in the console (no reason given)'
    const cases: Array<[string, RequestInit & { json?: unknown }, string]> = [
      ['long', { json: { reason: 'x'.repeat(501) } }, 'x'.repeat(500)],
      ['empty', { json: { reason: '' } }, DEFAULT_REASON],
      ['null', { json: { reason: null } }, DEFAULT_REASON],
      ['number', { json: { reason: 42 } }, DEFAULT_REASON],
      ['extra', { json: { reason: 'r', by: 'me' } }, 'r'],
      [
        'form-type',
        {
          body: '{"reason":"looping"}',
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        },
        'looping',
      ],
      ['not-json', { body: '{nope', headers }, DEFAULT_REASON],
      ['big', { json: { reason: 'x', pad: 'y'.repeat(20_000) } }, 'x'],
      ['huge', { json: { reason: 'x', pad: 'y'.repeat(70_000) } }, DEFAULT_REASON],
    ]
    for (const [handle, init, reason] of cases) {
      await ks.agents.create({ handle, spendingCap: 5 })
      const response = await request(`/console/api/agents/${handle}/revoke`, {
        method: 'POST',
        headers,
        ...init,
      })
      expect(response.status, handle).toBe(200)
      expect(await ks.agents.get(handle), handle).toMatchObject({
        status: 'revoked',
        revokedReason: reason,
      })
      const [last] = await ks.audit(handle, { limit: 1 })
      expect(last?.summary, handle).toContain(reason)
    }
  })

  it('pages agents server-side, filtered and ordered, with the CLI figures', async () => {
    const { ks, request, signIn } = setup()
    for (let i = 0; i < 120; i++) {
      await ks.agents.create({ handle: `agent-${String(i).padStart(3, '0')}`, spendingCap: i + 1 })
    }
    const session = await signIn()
    const get = async (query: string) =>
      json(await request(`/console/api/agents?${query}`, { headers: session }))
    const last = await get('page=3&pageSize=50')
    expect(last).toMatchObject({ total: 120, page: 3, pages: 3, pageSize: 50 })
    expect(last.rows).toHaveLength(20)
    expect(last.rows[0]).toMatchObject({
      handle: 'agent-100',
      spentText: '$0.00 / $101.00',
      percent: 0,
      availableText: '$101.00',
    })
    expect(last.rows[0].rate).toHaveLength(30)
    const filtered = await get('q=agent-11&order=handle')
    expect(filtered.rows.map((row: { handle: string }) => row.handle)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `agent-11${i}`),
    ])
    const bad = await request('/console/api/agents?pageSize=100000', { headers: session })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_config', field: 'pageSize' } })
  })

  it('revokes with an optional reason and edits caps; bad input writes nothing', async () => {
    const { ks, request, signIn } = setup()
    await ks.agents.create({ handle: 'a', spendingCap: 5 })
    await ks.agents.create({ handle: 'b', spendingCap: 5 })
    const session = await signIn()
    const headers = { ...session, origin: ORIGIN }
    const badCap = await request('/console/api/agents/a', {
      method: 'PATCH',
      json: { spendingCap: -1 },
      headers,
    })
    expect(badCap.status).toBe(400)
    expect((await ks.agents.get('a')).spendingCap).toBe(5)
    const capped = await request('/console/api/agents/a', {
      method: 'PATCH',
      json: { spendingCap: 7.5 },
      headers,
    })
    expect(await capped.json()).toMatchObject({
      agent: { capText: '$7.50', spentText: '$0.00 / $7.50' },
    })

    const revoked = await request('/console/api/agents/a/revoke', {
      method: 'POST',
      json: { reason: 'looping' },
      headers,
    })
    expect(await revoked.json()).toMatchObject({
      agent: { status: 'revoked', revokedReason: 'looping' },
      alreadyRevoked: false,
    })
    await request('/console/api/agents/b/revoke', { method: 'POST', headers })
    expect((await ks.agents.get('b')).revokedReason).toBe(
      'revoked in the console (no reason given)',
    )
    // Again, as /v1 answers: already revoked, the first reason kept (the page says so).
    const again = await request('/console/api/agents/a/revoke', {
      method: 'POST',
      json: { reason: 'INC-42' },
      headers,
    })
    expect(await again.json()).toMatchObject({
      alreadyRevoked: true,
      agent: { status: 'revoked', revokedReason: 'looping' },
    })
    const audit = await request('/console/api/agents/a/audit?limit=1', { headers })
    const page = await json(audit)
    expect(page.entries.map((entry: { type: string }) => entry.type)).toEqual(['revoked'])
    // Who revoked: the console (the audit could not say who before).
    expect(page.entries[0].data).toMatchObject({ reason: 'looping', by: 'console' })
    const older = await request(`/console/api/agents/a/audit?limit=10&before=${page.before}`, {
      headers,
    })
    expect((await json(older)).entries.map((entry: { type: string }) => entry.type)).toEqual([
      'created',
      'cap_changed',
    ])
  })

  it('says the agent was revoked already from the revoke itself: a revoke elsewhere just before it is not missed', async () => {
    const { ks, request, signIn } = setup({ serve: revokedJustBefore })
    await ks.agents.create({ handle: 'raced', spendingCap: 5 })
    const headers = { ...(await signIn()), origin: ORIGIN }
    const init = { method: 'POST', json: { reason: 'second' }, headers }
    const answer = await json(await request('/console/api/agents/raced/revoke', init))
    expect(answer.alreadyRevoked).toBe(true)
    expect(answer.agent).toMatchObject({ status: 'revoked', revokedReason: 'first' })
  })

  it('lists pending approvals and approves or denies them', async () => {
    const { ks, request, signIn } = setup()
    const now = Date.now()
    for (const [id, handle] of [
      ['apr_1', 'a'],
      ['apr_2', 'b'],
    ] as const) {
      await ks.agents.create({ handle, spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
      await ks.store.openApproval({
        id,
        handle,
        requestedMicros: 2_000_000,
        reason: 'cap',
        ttlMs: 60_000,
        now,
      })
    }
    const session = await signIn()
    const headers = { ...session, origin: ORIGIN }
    const listed = await json(await request('/console/api/approvals', { headers }))
    expect(listed.approvals.map((a: { id: string }) => a.id)).toEqual(['apr_1', 'apr_2'])
    const approved = await request('/console/api/approvals/apr_1/approve', {
      method: 'POST',
      json: { amount: 2, ttlMs: 3_600_000 },
      headers,
    })
    expect(await approved.json()).toMatchObject({
      approval: { status: 'approved', decidedBy: 'console' },
    })
    const tooLong = await request('/console/api/approvals/apr_2/approve', {
      method: 'POST',
      json: { amount: 2, ttlMs: 1 },
      headers,
    })
    expect(tooLong.status).toBe(400)
    await request('/console/api/approvals/apr_2/deny', {
      method: 'POST',
      json: { reason: 'no' },
      headers,
    })
    expect(await ks.approvals.list({ status: 'pending' })).toEqual([])
    expect((await ks.approvals.get('apr_2')).status).toBe('denied')
    // Decided already (elsewhere): 409, saying by whom and how; nothing changes.
    const late = await request('/console/api/approvals/apr_2/approve', {
      method: 'POST',
      json: { amount: 2, ttlMs: 3_600_000 },
      headers,
    })
    expect(late.status).toBe(409)
    expect(await late.json()).toMatchObject({
      error: {
        code: 'already_decided',
        message:
          'The request by b for $2.00 was denied already by console (no): your decision was not recorded.',
      },
      approval: { id: 'apr_2', status: 'denied' },
    })
    expect((await ks.approvals.get('apr_2')).status).toBe('denied')
  })

  it('streams the agents that changed over server-sent events', async () => {
    const { ks, request, signIn } = setup()
    await ks.agents.create({ handle: 'quiet', spendingCap: 5 })
    await ks.agents.create({ handle: 'busy', spendingCap: 5 })
    const session = await signIn()
    const controller = new AbortController()
    const response = await request('/console/api/events', {
      headers: session,
      signal: controller.signal,
    })
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    const next = async (event: string) => {
      for (;;) {
        const blocks = text.split('\n\n')
        const found = blocks.findIndex((block) => block.startsWith(`event: ${event}\n`))
        if (found >= 0) {
          text = blocks.slice(found + 1).join('\n\n')
          return JSON.parse((blocks[found] ?? '').replace(/^event: .*\ndata: /, ''))
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('the stream ended')
        text += new TextDecoder().decode(value)
      }
    }
    await next('ready')
    await ks.agents.update('busy', { spendingCap: 9 })
    const update = await next('update')
    expect(update.changed.map((row: { handle: string }) => row.handle)).toEqual(['busy'])
    expect(update.changed[0]).toMatchObject({ spentText: '$0.00 / $9.00', availableText: '$9.00' })
    // Signing out ends the stream at its next update.
    await request('/console/session/end', {
      method: 'POST',
      headers: { ...session, origin: ORIGIN },
    })
    await ks.agents.update('quiet', { spendingCap: 6 })
    await expect(next('update')).rejects.toThrow('the stream ended')
    controller.abort()
  })

  it('serves 10,000 agents a page at a time and streams only what changed', async () => {
    const { ks, request, signIn } = setup()
    const credentials: string[] = []
    for (let i = 0; i < 10_000; i++) {
      const created = await ks.agents.create({ handle: `fleet-${i}`, spendingCap: 1 + (i % 50) })
      if (i === 7_777) credentials.push(created.credential)
    }
    const session = await signIn()
    const page = await json(
      await request('/console/api/agents?order=handle&page=200&pageSize=50', {
        headers: session,
      }),
    )
    expect(page).toMatchObject({ total: 10_000, pages: 200, page: 200 })
    expect(page.rows).toHaveLength(50)
    // The browser gets one page, never the fleet: a page's JSON stays small.
    expect(JSON.stringify(page).length).toBeLessThan(50 * 1_000)

    const controller = new AbortController()
    const response = await request('/console/api/events', {
      headers: session,
      signal: controller.signal,
    })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    const read = async (event: string) => {
      while (!text.includes(`event: ${event}\n`)) {
        const { value } = await reader.read()
        text += new TextDecoder().decode(value)
      }
      const block = text.slice(text.indexOf(`event: ${event}\n`)).split('\n\n')[0] ?? ''
      text = ''
      return JSON.parse(block.replace(/^event: .*\ndata: /, ''))
    }
    await read('ready')
    const guard = ks.guard(credentials[0] as string)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 0.5, kind: 'tool', description: 'x' }),
    )
    const update = await read('update')
    expect(update.total).toBe(10_000)
    expect(update.changed.map((row: { handle: string }) => row.handle)).toEqual(['fleet-7777'])
    controller.abort()
  }, 60_000)

  it('shows what limits an agent (its shared budget) in the list, on its page and after an edit', async () => {
    const { ks, request, signIn } = setup()
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    const { credential } = await ks.agents.create({
      handle: 'budget-agent',
      spendingCap: 50,
      budgets: ['team-a'],
    })
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 2, kind: 'payment', description: 'x' }),
    )
    const verified = await ks.verify(credential)
    expect(verified).toMatchObject({ available: 0, limitedBy: 'budget', budgetId: 'team-a' })
    const session = await signIn()
    const headers = { ...session, origin: ORIGIN }
    const limited = {
      spentText: '$2.00 / $50.00',
      availableText: '$0.00',
      limitedBy: { level: 'budget', budgetId: 'team-a', per: 'day', resetsAt: verified.resetsAt },
      limitedByText: 'budget team-a, per day',
      budgets: [
        { id: 'team-a', limits: [{ per: 'day', spentText: '$2.00 / $2.00', percent: 100 }] },
      ],
    }
    const list = await json(await request('/console/api/agents', { headers }))
    expect(list.rows[0]).toMatchObject(limited)
    const page = await json(await request('/console/api/agents/budget-agent', { headers }))
    expect(page.agent).toMatchObject(limited)
    // The row a cap edit answers with replaces the page's: the budget still limits it.
    const edited = await request('/console/api/agents/budget-agent', {
      method: 'PATCH',
      json: { spendingCap: 60 },
      headers,
    })
    expect((await json(edited)).agent).toMatchObject({ ...limited, spentText: '$2.00 / $60.00' })
  })

  it('sends what an agent chose with its control, bidi and invisible characters escaped', async () => {
    const { ks, request, signIn } = setup()
    const TOOL = 'search\u202E10.0$ rof'
    const { credential } = await ks.agents.create({
      handle: 'bidi-agent',
      spendingCap: 50,
      approvals: { enabled: true, waitMs: 0 },
    })
    const guard = ks.guard(credential)
    await guard.afterToolCall(await guard.beforeToolCall({ name: TOOL, args: {}, priceUsd: 40 }), {
      ok: true,
    })
    await ks.store.openApproval({
      id: 'apr_bidi',
      handle: 'bidi-agent',
      requestedMicros: 20_000_000,
      reason: `buy \u2066${TOOL}\u2069\u200b`,
      ttlMs: 3_600_000,
      now: Date.now(),
    })
    const session = await signIn()
    const headers = { ...session, origin: ORIGIN }
    const approvals = await request('/console/api/approvals', { headers })
    const audit = await request('/console/api/agents/bidi-agent/audit', { headers })
    await ks.agents.revoke('bidi-agent', { reason: `runaway on ${TOOL}` })
    const page = await request('/console/api/agents/bidi-agent', { headers })
    const bodies = await Promise.all([approvals, audit, page].map((response) => response.text()))
    // Not one raw override, isolate or zero-width character reaches the page.
    for (const body of bodies) expect(body).not.toMatch(/[\u200b\u202e\u2066\u2069]/)
    const [approvalsBody, auditBody, pageBody] = bodies.map((body) => JSON.parse(body))
    expect(approvalsBody.approvals[0].reason).toBe(
      'buy \\u2066search\\u202e10.0$ rof\\u2069\\u200b',
    )
    const settled = auditBody.entries.find((entry: { type: string }) => entry.type === 'settled')
    expect(settled.summary).toContain('search\\u202e10.0$ rof')
    expect(settled.summary).toContain('$40')
    expect(pageBody.agent.revokedReason).toContain('runaway on search\\u202e10.0$ rof')
  })

  it('marks each unreconciled charge of the audit page with its hold id and what it charged', async () => {
    const { ks, request, signIn } = setup()
    await ks.agents.create({ handle: 'u', spendingCap: 5 })
    const now = Date.now()
    // A hold that lapsed (its process died), and a call charged its bound, nothing known.
    await ks.store.reserve({ handle: 'u', holdId: 'lost', amountMicros: 300_000, ttlMs: 1, now })
    await ks.store.reserve({
      handle: 'u',
      holdId: 'bound',
      amountMicros: 125_000,
      ttlMs: 60_000,
      now,
    })
    const summary = 'settled $0.125 for m (no usage reported: whole hold)'
    const audit = {
      at: now,
      handle: 'u',
      type: 'settled' as const,
      summary,
      data: { holdId: 'bound', cost: 0.125 },
    }
    await ks.store.settle({
      handle: 'u',
      holdId: 'bound',
      costMicros: 125_000,
      now: now + 10,
      unreconciled: true,
      audit,
    })
    const headers = { ...(await signIn()), origin: ORIGIN }
    const page = await json(await request('/console/api/agents/u/audit', { headers }))
    expect(
      page.entries.map((entry: { type: string; unreconciled?: unknown }) => [
        entry.type,
        entry.unreconciled,
      ]),
    ).toEqual([
      ['created', undefined],
      ['lapsed', { holdId: 'lost', charged: '$0.30' }],
      ['settled', { holdId: 'bound', charged: '$0.125' }],
    ])
  })

  it('needs no sign-in when the API runs with --insecure-no-auth', async () => {
    const { request } = setup({ insecureNoAuth: true })
    expect(await json(await request('/console/api/session'))).toEqual({ auth: 'none' })
  })
})

describe('console revoke, in force but confirmed by no replica', () => {
  it('answers 202 with the revoked row, replicated: false and what it means', async () => {
    const { ks, request, signIn } = setup({ serve: revokedUnreplicated })
    await ks.agents.create({ handle: 'a', spendingCap: 5 })
    const headers = { ...(await signIn()), origin: ORIGIN }
    const response = await request('/console/api/agents/a/revoke', {
      method: 'POST',
      json: { reason: 'leak' },
      headers,
    })
    expect(response.status).toBe(202)
    const answer = await json(response)
    expect(answer).toMatchObject({
      agent: { handle: 'a', status: 'revoked', revokedReason: 'leak' },
      alreadyRevoked: false,
      replicated: false,
    })
    expect(answer.message).toContain('is in force now')
    expect(answer.message).toContain('a failover now could undo it')
  })
})
