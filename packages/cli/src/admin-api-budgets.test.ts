// The admin API's budgets, approvals and paged audit routes: same token, same Host and
// cross-site checks as every /v1 route.

import { createKillSwitch, type KillSwitch, memoryStore } from '@killswitch/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type AdminServer, startAdminServer } from './admin-server.js'

const TOKEN = 'admin-token-0123456789abcdef'

let ks: KillSwitch
let server: AdminServer

beforeEach(async () => {
  ks = createKillSwitch({ store: memoryStore(), runaway: false })
  server = await startAdminServer({ killSwitch: ks, port: 0, token: TOKEN })
})

afterEach(async () => {
  await server.close()
  await ks.close()
})

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, json: text ? JSON.parse(text) : undefined }
}

describe('admin API: budgets', () => {
  it('creates, lists, gets and updates a budget; agents draw on it', async () => {
    const created = await call('POST', '/v1/budgets', {
      id: 'team-research',
      limits: [
        { amount: 100, per: 'day' },
        { amount: 2000, per: 'month' },
      ],
    })
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({
      id: 'team-research',
      limits: [{ amount: 100, available: 100 }, { per: 'month' }],
    })
    const agent = await call('POST', '/v1/agents', {
      handle: 'r7',
      spendingCap: 50,
      limits: [{ amount: 5, per: 'hour' }],
      budgets: ['team-research'],
    })
    expect(agent.status).toBe(201)
    expect(agent.json).toMatchObject({
      limits: [{ amount: 5, per: 'hour' }],
      budgets: ['team-research'],
    })
    expect((await call('GET', '/v1/budgets')).json.budgets).toEqual([
      expect.objectContaining({ id: 'team-research', agents: ['r7'] }),
    ])
    const updated = await call('PATCH', '/v1/budgets/team-research', {
      limits: [{ amount: 150, per: 'day' }],
    })
    expect(updated.status).toBe(200)
    expect((await call('GET', '/v1/budgets/team-research')).json.limits).toEqual([
      expect.objectContaining({ amount: 150, per: 'day' }),
    ])
    const patched = await call('PATCH', '/v1/agents/r7', { limits: [], budgets: [] })
    expect(patched.json).toMatchObject({ limits: [], budgets: [] })
  })

  it('refuses bad input with the field named, and unknown budgets', async () => {
    const bad = await call('POST', '/v1/budgets', {
      id: 'b',
      limits: [{ amount: 1, per: 'fortnight' }],
    })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatchObject({ code: 'invalid_config', field: 'limits.0.per' })
    expect((await call('GET', '/v1/budgets')).json.budgets).toEqual([])
    const unknown = await call('GET', '/v1/budgets/nope')
    expect(unknown.status).toBe(404)
    expect(unknown.json.error.code).toBe('budget_not_found')
    const dayLimit = [{ amount: 1, per: 'day' }]
    const unknownUpdate = await call('PATCH', '/v1/budgets/nope', { limits: dayLimit })
    expect(unknownUpdate.status).toBe(404)
    const extra = await call('PATCH', '/v1/budgets/nope', { limits: dayLimit, colour: 'red' })
    expect(extra.json.error.field).toBe('colour')
  })

  it('refuses bodies that would change nothing or write nonsense, naming the field; nothing written', async () => {
    await ks.budgets.create({ id: 'team', limits: [{ amount: 100, per: 'day' }] })
    await ks.agents.create({ handle: 'fz', spendingCap: 5 })
    // Everything a write could touch: budgets, agents, the agent's audit log.
    const state = async () =>
      JSON.stringify([await ks.budgets.list(), await ks.agents.list(), await ks.audit('fz')])
    const before = await state()
    const refused: Array<[string, string, unknown, string]> = [
      ['PATCH', '/v1/budgets/team', {}, 'limits'],
      ['PATCH', '/v1/budgets/team', { limits: [] }, 'limits'],
      ['POST', '/v1/budgets', { id: 'b2', limits: [] }, 'limits'],
      [
        'POST',
        '/v1/agents/fz/alerts',
        { thresholdPct: 0.8, webhookUrl: 'https://hooks.example.com/x', routingKey: 'abc' },
        'routingKey',
      ],
      [
        'POST',
        '/v1/agents/fz/alerts',
        {
          thresholdPct: 0.8,
          webhookUrl: 'https://hooks.example.com/x',
          format: 'slack',
          routingKey: 'abc',
        },
        'routingKey',
      ],
      [
        'POST',
        '/v1/agents',
        { handle: 'dup', spendingCap: 5, budgets: ['team', 'team'] },
        'budgets',
      ],
      ['PATCH', '/v1/agents/fz', { budgets: ['team', 'team'] }, 'budgets'],
    ]
    for (const [method, path, body, field] of refused) {
      const answer = await call(method, path, body)
      // Soft: every body that is let through is reported, not only the first.
      expect.soft(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400)
      expect.soft(answer.json?.error).toMatchObject({ code: 'invalid_config', field })
    }
    expect(await state()).toBe(before)
    expect((await call('PATCH', '/v1/budgets/team', {})).json.error.message).toMatch(
      /Nothing to change/,
    )
  })

  it('needs the token and refuses cross-site writes', async () => {
    expect((await call('GET', '/v1/budgets', undefined, {})).status).toBe(401)
    const crossSite = await call(
      'POST',
      '/v1/budgets',
      { id: 'x', limits: [{ amount: 1, per: 'day' }] },
      { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' },
    )
    expect(crossSite.status).toBe(403)
    expect(await ks.budgets.list()).toEqual([])
  })
})

describe('admin API: approvals', () => {
  // One open request per agent: each request here is another agent's.
  async function pending(id: string, handle = 'a') {
    await ks.store.openApproval({
      id,
      handle,
      requestedMicros: 2_000_000,
      reason: 'past the cap',
      ttlMs: 60_000,
      now: Date.now(),
    })
  }

  it('lists, approves with a bounded grant once, denies with a reason', async () => {
    await ks.agents.create({ handle: 'a', spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
    await ks.agents.create({ handle: 'b', spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
    await pending('apr_1')
    await pending('apr_2', 'b')
    const list = await call('GET', '/v1/approvals?status=pending')
    expect(list.json.approvals.map((a: { id: string }) => a.id).sort()).toEqual(['apr_1', 'apr_2'])
    const approved = await call('POST', '/v1/approvals/apr_1/approve', {
      amount: 10,
      ttlMs: 3_600_000,
    })
    expect(approved.status).toBe(200)
    expect(approved.json).toMatchObject({
      status: 'approved',
      decidedBy: 'admin-api',
      grant: { amount: 10 },
    })
    const twice = await call('POST', '/v1/approvals/apr_1/deny', {})
    expect(twice.status).toBe(400)
    expect(twice.json.error.message).toMatch(/approved already/)
    const denied = await call('POST', '/v1/approvals/apr_2/deny', { reason: 'looping' })
    expect(denied.json).toMatchObject({ status: 'denied', decisionReason: 'looping' })
    expect((await call('GET', '/v1/approvals/apr_2')).json.status).toBe('denied')
    expect((await call('GET', '/v1/approvals?status=open')).json.error.field).toBe('status')
    expect(
      (await call('POST', '/v1/approvals/apr_9/approve', { amount: 0, ttlMs: 1000 })).status,
    ).toBe(400)
    // No request has that id: 404, whatever is asked of it.
    for (const [method, path, body] of [
      ['GET', '/v1/approvals/apr_9', undefined],
      ['POST', '/v1/approvals/apr_9/approve', { amount: 1, ttlMs: 1000 }],
      ['POST', '/v1/approvals/apr_9/deny', {}],
    ] as const) {
      const unknown = await call(method, path, body)
      expect(unknown.status).toBe(404)
      expect(unknown.json.error.code).toBe('approval_not_found')
    }
  })

  it('needs the token and refuses a cross-site approve', async () => {
    await ks.agents.create({ handle: 'a', spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
    await pending('apr_3')
    const body = { amount: 10, ttlMs: 60_000 }
    expect((await call('POST', '/v1/approvals/apr_3/approve', body, {})).status).toBe(401)
    const crossSite = await call('POST', '/v1/approvals/apr_3/approve', body, {
      authorization: `Bearer ${TOKEN}`,
      'sec-fetch-site': 'cross-site',
    })
    expect(crossSite.status).toBe(403)
    expect((await ks.approvals.get('apr_3')).status).toBe('pending')
  })
})

describe('admin API: audit pages', () => {
  it('passes ?limit= and ?before= to the store', async () => {
    await ks.agents.create({ handle: 'p', spendingCap: 50 })
    for (let i = 1; i <= 5; i++) await ks.agents.update('p', { spendingCap: 50 + i })
    const page = await call('GET', '/v1/agents/p/audit?limit=2')
    expect(page.json.entries).toHaveLength(2)
    expect(page.json.entries[1].summary).toMatch(/55/)
    const first = page.json.entries[0].seq as number
    const older = await call('GET', `/v1/agents/p/audit?limit=3&before=${first}`)
    expect(older.json.entries.map((entry: { seq: number }) => entry.seq)).toEqual([
      first - 3,
      first - 2,
      first - 1,
    ])
    expect((await call('GET', '/v1/agents/p/audit?before=x')).json.error.field).toBe('before')
  })
})

describe('admin API: alert formats', () => {
  it('sets a PagerDuty rule with its routing key, and refuses one without, naming the field', async () => {
    await ks.agents.create({ handle: 'f', spendingCap: 5 })
    const keyless = await call('POST', '/v1/agents/f/alerts', {
      thresholdPct: 0.8,
      webhookUrl: 'https://events.pagerduty.com/v2/enqueue',
      format: 'pagerduty',
    })
    expect(keyless.status).toBe(400)
    expect(keyless.json.error.field).toBe('routingKey')
    const set = await call('POST', '/v1/agents/f/alerts', {
      thresholdPct: 0.8,
      webhookUrl: 'https://events.pagerduty.com/v2/enqueue',
      format: 'pagerduty',
      routingKey: 'R0UT1NGKEY0123',
    })
    expect(set.status).toBe(200)
    expect(set.json.alerts).toEqual([expect.objectContaining({ format: 'pagerduty' })])
    expect(JSON.stringify(set.json)).not.toContain('R0UT1NGKEY0123')
    const bad = await call('POST', '/v1/agents/f/alerts', {
      thresholdPct: 0.8,
      webhookUrl: 'https://hooks.example.com/x',
      format: 'teams',
    })
    expect(bad.json.error.field).toBe('format')
  })
})
