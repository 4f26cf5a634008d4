import { createKillSwitch, type KillSwitch, memoryStore } from '@killswitch/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAdminApi } from './admin-api.js'
import type { AdminKillSwitch } from './admin-kill-switch.js'
import { type AdminServer, startAdminServer } from './admin-server.js'
import { revokedJustBefore, revokedUnreplicated } from './test-helpers.js'

const TOKEN = 'admin-token-0123456789abcdef'
const INTROSPECT_TOKEN = 'introspect-token-0123456789'

let ks: KillSwitch
let server: AdminServer
let log: string[]

beforeEach(async () => {
  ks = createKillSwitch({ store: memoryStore() })
  log = []
  server = await startAdminServer({
    killSwitch: ks,
    port: 0,
    token: TOKEN,
    introspectionToken: INTROSPECT_TOKEN,
    log: (line) => log.push(line),
  })
})

afterEach(async () => {
  await server.close()
  await ks.close()
})

async function call(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; contentType?: string; raw?: string } = {},
) {
  const headers: Record<string, string> = {}
  const token = options.token === undefined ? TOKEN : options.token
  if (token !== null) headers.authorization = `Bearer ${token}`
  let payload: string | undefined = options.raw
  if (body !== undefined) {
    payload = JSON.stringify(body)
    headers['content-type'] = 'application/json'
  }
  if (options.contentType) headers['content-type'] = options.contentType
  const response = await fetch(`${server.url}${path}`, { method, headers, body: payload })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    json: text ? JSON.parse(text) : undefined,
  }
}

/** One revoke through an admin API serving `killSwitch` (a wrapper of the test's, a race). */
async function revokeServedBy(killSwitch: AdminKillSwitch, handle: string, body: unknown) {
  const served = await startAdminServer({ killSwitch, port: 0, token: TOKEN, log: () => {} })
  try {
    const response = await fetch(`${served.url}/v1/agents/${handle}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  } finally {
    await served.close()
  }
}

async function createAgent(handle = 'researcher-agent-7', spendingCap = 50) {
  const response = await call('POST', '/v1/agents', { handle, spendingCap })
  expect(response.status).toBe(201)
  return response.json as { handle: string; credential: string }
}

describe('admin API: auth', () => {
  it('refuses every /v1 route without the token or with a wrong one', async () => {
    for (const [method, path] of [
      ['GET', '/v1/agents'],
      ['POST', '/v1/agents'],
      ['GET', '/v1/agents/x'],
      ['PATCH', '/v1/agents/x'],
      ['POST', '/v1/agents/x/alerts'],
      ['POST', '/v1/agents/x/revoke'],
      ['GET', '/v1/agents/x/audit'],
      ['POST', '/v1/introspect'],
    ] as const) {
      for (const token of [null, 'wrong-token-0123456789abcdef', `${TOKEN}x`, '']) {
        const response = await call(method, path, undefined, { token })
        expect(response.status, `${method} ${path} with ${token}`).toBe(401)
        expect(response.json.error.code).toBe('unauthorized')
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/)
      }
    }
    expect(await ks.agents.list()).toEqual([])
  })

  it('lets the introspection token introspect and nothing else', async () => {
    expect((await call('GET', '/v1/agents', undefined, { token: INTROSPECT_TOKEN })).status).toBe(
      401,
    )
    const response = await call(
      'POST',
      '/v1/introspect',
      { token: 'ks_nope' },
      { token: INTROSPECT_TOKEN },
    )
    expect(response.status).toBe(200)
  })

  it('serves /healthz without a token', async () => {
    expect(await call('GET', '/healthz', undefined, { token: null })).toMatchObject({
      status: 200,
      json: { ok: true },
    })
  })

  it('refuses to be built without a token unless no-auth is explicit, and weak tokens', () => {
    expect(() => createAdminApi({ killSwitch: ks })).toThrow(/admin token/)
    expect(() => createAdminApi({ killSwitch: ks, token: 'short' })).toThrow(/at least 16/)
    expect(() => createAdminApi({ killSwitch: ks, insecureNoAuth: true })).not.toThrow()
  })

  it('refuses at startup a token outside printable ASCII, which curl could never send', () => {
    const refusal = (options: { token?: string; introspectionToken?: string }) => {
      try {
        createAdminApi({ killSwitch: ks, token: TOKEN, ...options })
      } catch (error) {
        return error as { code?: string; field?: string; message: string }
      }
      throw new Error(`accepted ${JSON.stringify(options)}`)
    }
    for (const token of [
      'pässwörd-0123456789abcdef',
      'токен-0123456789abcdef-xyz',
      `${TOKEN}\u0085`,
      `${TOKEN}\u200b`,
    ]) {
      const refused = refusal({ token })
      expect(refused).toMatchObject({ code: 'invalid_config', field: 'token' })
      expect(refused.message).toMatch(/printable ASCII.*openssl rand -hex 32/)
      expect(refused.message).not.toContain(token)
    }
    expect(refusal({ introspectionToken: `é${INTROSPECT_TOKEN}` })).toMatchObject({
      code: 'invalid_config',
      field: 'introspectionToken',
    })
    expect(refusal({ introspectionToken: `é${INTROSPECT_TOKEN}` }).message).toMatch(
      /^The introspectionToken has a character outside printable ASCII \(character 1\)/,
    )
    // Every printable ASCII character is fine.
    expect(() => createAdminApi({ killSwitch: ks, token: `${TOKEN}!~"\\{}` })).not.toThrow()
  })

  it('refuses at startup a token holding whitespace, which could never authenticate', () => {
    const refusal = (options: { token?: string; introspectionToken?: string }) => {
      try {
        createAdminApi({ killSwitch: ks, token: TOKEN, ...options })
      } catch (error) {
        return error as { code?: string; field?: string; message: string }
      }
      throw new Error(`accepted ${JSON.stringify(options)}`)
    }
    // `echo $TOKEN > file` then `--token "$(cat file)"` is fine; `< file` or a heredoc is not.
    const newline = refusal({ token: `${TOKEN}\n` })
    expect(newline).toMatchObject({ code: 'invalid_config', field: 'token' })
    expect(newline.message).toMatch(/strip the trailing newline/)
    expect(newline.message).not.toContain(TOKEN)
    expect(refusal({ token: ` ${TOKEN}\r\n` })).toMatchObject({ field: 'token' })
    const spaces = refusal({ token: 'correct horse battery staple' })
    expect(spaces).toMatchObject({ code: 'invalid_config', field: 'token' })
    expect(spaces.message).toMatch(/without spaces.*openssl rand -hex 32/)
    expect(refusal({ token: `${TOKEN}\tx` })).toMatchObject({ field: 'token' })
    expect(refusal({ introspectionToken: `${INTROSPECT_TOKEN}\n` })).toMatchObject({
      code: 'invalid_config',
      field: 'introspectionToken',
    })
  })

  it('serves without auth only on loopback, and only when asked', async () => {
    await expect(
      startAdminServer({ killSwitch: ks, port: 0, host: '0.0.0.0', insecureNoAuth: true }),
    ).rejects.toThrow(/loopback only/)
    const open = await startAdminServer({ killSwitch: ks, port: 0, insecureNoAuth: true })
    try {
      const response = await fetch(`${open.url}/v1/agents`)
      expect(response.status).toBe(200)
    } finally {
      await open.close()
    }
  })
})

describe('admin API: agents', () => {
  it('revokes a handle pasted with surrounding spaces (%20) in the path: never refuses to fire', async () => {
    await createAgent()
    const revoked = await call('POST', '/v1/agents/%20researcher-agent-7%20/revoke', {
      reason: 'pasted',
    })
    expect(revoked.status).toBe(200)
    expect(revoked.json.agent).toMatchObject({ handle: 'researcher-agent-7', status: 'revoked' })
    expect((await ks.agents.get('researcher-agent-7')).revokedReason).toBe('pasted')
    expect((await call('GET', '/v1/agents/researcher-agent-7%20')).status).toBe(200)
  })

  it('creates, lists, gets, updates the cap, sets an alert, revokes and reads the audit log', async () => {
    const created = await createAgent()
    expect(created).toMatchObject({
      handle: 'researcher-agent-7',
      spendingCap: 50,
      status: 'active',
    })
    expect(created.credential).toMatch(/^ks_/)

    const list = await call('GET', '/v1/agents')
    expect(list.status).toBe(200)
    expect(list.json.agents).toHaveLength(1)
    expect(JSON.stringify(list.json)).not.toContain(created.credential)

    const got = await call('GET', '/v1/agents/researcher-agent-7')
    expect(got.json).toMatchObject({ handle: 'researcher-agent-7', spent: 0, available: 50 })
    expect(got.json.credential).toBeUndefined()

    const capped = await call('PATCH', '/v1/agents/researcher-agent-7', { spendingCap: 10 })
    expect(capped).toMatchObject({ status: 200, json: { spendingCap: 10, available: 10 } })

    const alert = await call('POST', '/v1/agents/researcher-agent-7/alerts', {
      thresholdPct: 0.8,
      webhookUrl: 'https://hooks.example.com/ks',
      secret: 'whsec_0123456789abcdef',
    })
    expect(alert.status).toBe(200)
    expect(alert.json.alerts).toEqual([
      { thresholdPct: 0.8, webhookUrl: 'https://hooks.example.com/ks', signed: true },
    ])
    expect(JSON.stringify(alert.json)).not.toContain('whsec_0123456789abcdef')

    const revoked = await call('POST', '/v1/agents/researcher-agent-7/revoke', { reason: 'loop' })
    expect(revoked.status).toBe(200)
    expect(revoked.json).toMatchObject({
      agent: { status: 'revoked', revokedReason: 'loop' },
      alreadyRevoked: false,
    })
    expect(typeof revoked.json.tookMs).toBe('number')
    expect(await ks.verify(created.credential)).toEqual({ active: false })
    const again = await call('POST', '/v1/agents/researcher-agent-7/revoke')
    expect(again.json).toMatchObject({ alreadyRevoked: true, agent: { revokedReason: 'loop' } })

    const audit = await call('GET', '/v1/agents/researcher-agent-7/audit')
    expect(audit.json.entries.map((entry: { type: string }) => entry.type)).toEqual([
      'created',
      'cap_changed',
      'alert_set',
      'revoked',
      // The revoked alert, written before it is sent (a lost one shows with no delivery).
      'alert',
    ])
    expect(audit.json.entries[0].at).toMatch(/^\d{4}-\d\d-\d\dT/)
    const last = await call('GET', '/v1/agents/researcher-agent-7/audit?limit=1')
    expect(last.json.entries).toHaveLength(1)
    expect(last.json.entries[0].type).toBe('alert')
    expect(JSON.stringify(audit.json)).not.toContain(created.credential)
    expect(audit.headers.get('cache-control')).toBe('no-store')
  })

  it('answers with the core error codes and statuses', async () => {
    await createAgent('taken')
    expect(await call('POST', '/v1/agents', { handle: 'taken', spendingCap: 5 })).toMatchObject({
      status: 409,
      json: { error: { code: 'agent_exists' } },
    })
    for (const [method, path, body] of [
      ['GET', '/v1/agents/nobody', undefined],
      ['PATCH', '/v1/agents/nobody', { spendingCap: 5 }],
      ['POST', '/v1/agents/nobody/alerts', { thresholdPct: 0.5, webhookUrl: 'https://x.example' }],
      ['POST', '/v1/agents/nobody/revoke', { reason: 'x' }],
      ['GET', '/v1/agents/nobody/audit', undefined],
    ] as const) {
      const response = await call(method, path, body)
      expect(response.status, `${method} ${path}`).toBe(404)
      expect(response.json.error.code).toBe('agent_not_found')
      expect(response.json.error.message).toMatch(/nobody/)
    }
    expect(await call('GET', '/v1/nothing-here')).toMatchObject({
      status: 404,
      json: { error: { code: 'not_found' } },
    })
  })

  it('takes spendRules on create and update, and get returns them', async () => {
    const payee = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
    const spendRules = { allowedPayees: [payee], maxSpendUsd: 0.5 }
    const created = await call('POST', '/v1/agents', {
      handle: 'buyer',
      spendingCap: 20,
      spendRules,
    })
    expect(created).toMatchObject({ status: 201, json: { spendRules } })
    expect(await call('GET', '/v1/agents/buyer')).toMatchObject({
      status: 200,
      json: { spendRules },
    })
    // The update replaces them whole; {} removes them.
    const updated = await call('PATCH', '/v1/agents/buyer', { spendRules: { maxSpendUsd: 0.1 } })
    expect(updated).toMatchObject({ status: 200, json: { spendRules: { maxSpendUsd: 0.1 } } })
    expect((await ks.agents.get('buyer')).spendRules).toEqual({ maxSpendUsd: 0.1 })
    const guard = ks.guard((created.json as { credential: string }).credential)
    await expect(
      guard.reserveSpend({ amountUsd: 0.2, kind: 'payment', description: 'x', payee }),
    ).rejects.toMatchObject({ code: 'spend_refused', rule: 'max_spend_exceeded' })
    const removed = await call('PATCH', '/v1/agents/buyer', { spendRules: {} })
    expect(removed).toMatchObject({ status: 200, json: { spendRules: {} } })
  })

  it('refuses bad bodies with 400 and names the field', async () => {
    await createAgent('alpha')
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/agents', { handle: 'b' }, 'spendingCap'],
      ['POST', '/v1/agents', { handle: 'b', spendingCap: '50' }, 'spendingCap'],
      ['POST', '/v1/agents', { spendingCap: 5 }, 'handle'],
      ['POST', '/v1/agents', { handle: 'has spaces', spendingCap: 5 }, 'handle'],
      ['POST', '/v1/agents', { handle: 'b', spendingCap: -1 }, 'spendingCap'],
      ['POST', '/v1/agents', { handle: 'b', spendingCap: 5, spendingcap: 5 }, 'spendingcap'],
      ['PATCH', '/v1/agents/alpha', { spendingCap: 'ten' }, 'spendingCap'],
      ['PATCH', '/v1/agents/alpha', {}, 'spendingCap'],
      [
        'POST',
        '/v1/agents/alpha/alerts',
        { thresholdPct: 80, webhookUrl: 'https://x.example' },
        'thresholdPct',
      ],
      [
        'POST',
        '/v1/agents/alpha/alerts',
        { thresholdPct: 0.8, webhookUrl: 'ftp://x.example' },
        'webhookUrl',
      ],
      ['POST', '/v1/agents/alpha/alerts', { thresholdPct: 0.8 }, 'webhookUrl'],
      [
        'POST',
        '/v1/agents/alpha/alerts',
        { thresholdPct: 0.8, webhookUrl: 'https://x.example', secret: 'short' },
        'secret',
      ],
      [
        'POST',
        '/v1/agents',
        { handle: 'b', spendingCap: 5, spendRules: { maxSpendUsd: -1 } },
        'spendRules.maxSpendUsd',
      ],
      [
        'POST',
        '/v1/agents',
        { handle: 'b', spendingCap: 5, spendRules: { payees: [] } },
        'spendRules.payees',
      ],
      [
        'PATCH',
        '/v1/agents/alpha',
        { spendRules: { allowedPayees: 'x' } },
        'spendRules.allowedPayees',
      ],
      [
        'PATCH',
        '/v1/agents/alpha',
        { spendRules: { allowedPayees: [''] } },
        'spendRules.allowedPayees.0',
      ],
    ]
    for (const [method, path, body, field] of cases) {
      const response = await call(method, path, body)
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400)
      expect(response.json.error, JSON.stringify(body)).toMatchObject({
        code: 'invalid_config',
        field,
      })
      expect(response.json.error.message).toContain(field)
    }
    const notJson = await call('POST', '/v1/agents', undefined, {
      raw: '{nope',
      contentType: 'application/json',
    })
    expect(notJson).toMatchObject({ status: 400, json: { error: { field: 'body' } } })
    const wrongType = await call('POST', '/v1/agents', undefined, {
      raw: 'handle=b',
      contentType: 'text/plain',
    })
    expect(wrongType).toMatchObject({ status: 400, json: { error: { field: 'body' } } })
    const huge = await call('POST', '/v1/agents', {
      handle: 'b',
      spendingCap: 5,
      pad: 'x'.repeat(70_000),
    })
    expect(huge).toMatchObject({ status: 413, json: { error: { code: 'invalid_config' } } })
    const badLimit = await call('GET', '/v1/agents/alpha/audit?limit=-3')
    expect(badLimit).toMatchObject({ status: 400, json: { error: { field: 'limit' } } })
    expect((await ks.agents.get('alpha')).spendingCap).toBe(50)
  })
})

describe('admin API: a revoke never refuses to fire for its body', () => {
  const DEFAULT_REASON = 'revoked through the admin API'

  async function revokeWith(
    handle: string,
    body: unknown,
    options: { contentType?: string; raw?: string } = {},
  ) {
    await createAgent(handle, 5)
    const response = await call('POST', `/v1/agents/${handle}/revoke`, body, options)
    const agent = await ks.agents.get(handle)
    const [last] = await ks.audit(handle, { limit: 1 })
    return { response, agent, last }
  }

  it('passes a string reason on: the core cuts one too long', async () => {
    const { response, agent, last } = await revokeWith('long', { reason: 'x'.repeat(501) })
    expect(response.status).toBe(200)
    expect(response.json).toMatchObject({ agent: { status: 'revoked' }, alreadyRevoked: false })
    expect(agent.status).toBe('revoked')
    expect(agent.revokedReason).toBe('x'.repeat(500))
    expect(last?.type).toBe('revoked')
  })

  it('revokes with the default reason when the body gives none usable', async () => {
    const cases: Array<[string, unknown, { contentType?: string; raw?: string }?]> = [
      ['empty', { reason: '' }],
      ['blank', { reason: '   ' }],
      ['null', { reason: null }],
      ['number', { reason: 42 }],
      ['object', { reason: { text: 'x' } }],
      ['array', []],
      ['string-body', 'just a string'],
      ['no-body', undefined],
      ['not-json', undefined, { raw: '{nope', contentType: 'application/json' }],
      ['huge', { reason: 'x', pad: 'y'.repeat(70_000) }],
    ]
    for (const [handle, body, options] of cases) {
      const { response, agent, last } = await revokeWith(handle, body, options)
      expect(response.status, handle).toBe(200)
      expect(agent.status, handle).toBe('revoked')
      expect(agent.revokedReason, handle).toBe(DEFAULT_REASON)
      expect(last?.type, handle).toBe('revoked')
      expect(last?.summary, handle).toContain(DEFAULT_REASON)
      // Nobody named: the admin API is who revoked.
      expect(last?.data.by, handle).toBe('admin-api')
    }
  })

  it('ignores extra fields and takes the reason and who revokes', async () => {
    const { response, agent, last } = await revokeWith('extra', {
      reason: 'looping',
      by: 'me',
      extra: true,
    })
    expect(response.status).toBe(200)
    expect(agent).toMatchObject({ status: 'revoked', revokedReason: 'looping' })
    expect(last?.data).toMatchObject({ reason: 'looping', by: 'me' })
  })

  it('revokes all the same for a `by` that cannot be kept: recorded as the admin API, or the core default', async () => {
    for (const [handle, by, recorded] of [
      ['by-number', 42, 'admin-api'],
      ['by-blank', '  ', 'admin-api'],
      ['by-long', 'x'.repeat(201), 'operator'],
    ] as const) {
      const { response, agent, last } = await revokeWith(handle, { reason: 'looping', by })
      expect(response.status, handle).toBe(200)
      expect(agent.status, handle).toBe('revoked')
      expect(last?.data.by, handle).toBe(recorded)
    }
  })

  it('answers alreadyRevoked from the revoke itself: a revoke elsewhere just before it is not missed', async () => {
    await createAgent('raced', 5)
    const { json: answer } = await revokeServedBy(revokedJustBefore(ks), 'raced', {
      reason: 'second',
      by: 'alice',
    })
    expect(answer).toMatchObject({
      alreadyRevoked: true,
      agent: { status: 'revoked', revokedReason: 'first' },
    })
    // The snapshot as every view shows it: the answer's flag is not repeated in it.
    expect(answer.agent).not.toHaveProperty('alreadyRevoked')
    const revoked = (await ks.audit('raced')).filter((entry) => entry.type === 'revoked')
    expect(revoked.map((entry) => entry.data.by)).toEqual(['bob'])
  })

  it('reads the reason whatever the content type (curl -d sends a form type)', async () => {
    const raw = '{"reason":"looping on the search tool"}'
    for (const [handle, contentType] of [
      ['form', 'application/x-www-form-urlencoded'],
      ['plain', 'text/plain'],
      ['none', ''],
    ] as const) {
      const { response, agent } = await revokeWith(
        handle,
        undefined,
        contentType ? { raw, contentType } : { raw },
      )
      expect(response.status, handle).toBe(200)
      expect(agent, handle).toMatchObject({
        status: 'revoked',
        revokedReason: 'looping on the search tool',
      })
    }
    const { agent } = await revokeWith('form-field', undefined, {
      raw: 'reason=budget+loop',
      contentType: 'application/x-www-form-urlencoded',
    })
    expect(agent).toMatchObject({ status: 'revoked', revokedReason: 'budget loop' })
    const [last] = await ks.audit('form-field', { limit: 1 })
    expect(last?.data.by).toBe('admin-api')
    const named = await revokeWith('form-by', undefined, {
      raw: 'reason=budget+loop&by=carol',
      contentType: 'application/x-www-form-urlencoded',
    })
    expect(named.last?.data).toMatchObject({ reason: 'budget loop', by: 'carol' })
  })

  it('still refuses an unknown handle, a missing token and a cross-site request', async () => {
    await createAgent('kept', 5)
    const unknown = await call('POST', '/v1/agents/nobody/revoke', { reason: 'x' })
    expect(unknown).toMatchObject({ status: 404, json: { error: { code: 'agent_not_found' } } })
    const noToken = await call('POST', '/v1/agents/kept/revoke', undefined, {
      token: null,
      raw: 'x',
    })
    expect(noToken.status).toBe(401)
    const crossSite = await fetch(`${server.url}/v1/agents/kept/revoke`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        origin: 'https://evil.example',
        'content-type': 'text/plain',
      },
      body: '{"reason":"csrf"}',
    })
    expect(crossSite.status).toBe(403)
    expect((await ks.agents.get('kept')).status).toBe('active')
  })
})

describe('admin API: introspection (RFC 7662)', () => {
  async function introspect(token: string, form: boolean) {
    return form
      ? call('POST', '/v1/introspect', undefined, {
          raw: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          contentType: 'application/x-www-form-urlencoded',
        })
      : call('POST', '/v1/introspect', { token })
  }

  it('says active for a live credential, form-encoded or JSON, and inactive once revoked', async () => {
    const { credential } = await createAgent('alpha', 50)
    for (const form of [true, false]) {
      const live = await introspect(credential, form)
      expect(live.status).toBe(200)
      expect(live.json).toMatchObject({
        active: true,
        sub: 'alpha',
        handle: 'alpha',
        available: 50,
        token_type: 'killswitch_agent',
      })
      expect(live.headers.get('cache-control')).toBe('no-store')
    }
    await ks.agents.revoke('alpha', { reason: 'done' })
    for (const form of [true, false])
      expect((await introspect(credential, form)).json).toEqual({ active: false })
  })

  it('says only { active: false } for unknown and malformed credentials', async () => {
    for (const token of [`ks_${'A'.repeat(43)}`, 'not-a-credential', '']) {
      const response = await introspect(token, true)
      expect(response.status).toBe(200)
      expect(response.json).toEqual({ active: false })
    }
  })

  it('requires the token parameter', async () => {
    const response = await call('POST', '/v1/introspect', { nothing: true })
    expect(response).toMatchObject({
      status: 400,
      json: { error: { code: 'invalid_config', field: 'token' } },
    })
  })

  it('never logs a credential or the admin token', async () => {
    const { credential } = await createAgent('alpha')
    await introspect(credential, true)
    await call('GET', '/v1/agents', undefined, { token: 'wrong-token-0123456789abcdef' })
    expect(log.length).toBeGreaterThanOrEqual(3)
    expect(log.join('\n')).toMatch(/POST \/v1\/introspect 200/)
    for (const secret of [credential, TOKEN, 'wrong-token-0123456789abcdef'])
      expect(log.join('\n')).not.toContain(secret)
  })
})

describe('admin server', () => {
  it('says which flag fixes a port in use', async () => {
    await expect(
      startAdminServer({ killSwitch: ks, token: TOKEN, port: server.port }),
    ).rejects.toMatchObject({
      code: 'invalid_config',
      field: 'port',
      message: expect.stringMatching(/in use/),
    })
  })
})

describe('admin API: a revocation in force that no replica confirmed yet', () => {
  it('answers 202 with replicated: false and what it means, not 503 "not written"', async () => {
    const { credential } = await createAgent('unreplicated', 5)
    const { status, json: answer } = await revokeServedBy(revokedUnreplicated(ks), 'unreplicated', {
      reason: 'leak',
    })
    expect(status).toBe(202)
    expect(answer).toMatchObject({
      agent: { handle: 'unreplicated', status: 'revoked', revokedReason: 'leak' },
      alreadyRevoked: false,
      replicated: false,
    })
    expect(typeof answer.tookMs).toBe('number')
    expect(answer.message).toContain(
      'is in force now: this and every other process refuse its credential. No replica has confirmed it yet, so a failover now could undo it',
    )
    expect(answer.message).not.toMatch(/not written|do not see it/)
    // In force: the credential is refused.
    expect(await ks.verify(credential)).toEqual({ active: false })
  })
})
