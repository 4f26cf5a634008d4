// One-click approval links end to end: a kill switch that runs the agent sends the signed
// webhook (to a real receiver on loopback), and `serve`'s admin API over the same store
// answers its links: GET shows, POST acts once, tampered and expired links are refused.

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  approvalLinkUrl,
  createKillSwitch,
  type KillSwitch,
  memoryStore,
  verifyWebhookSignature,
} from '@killswitch/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type AdminServer, startAdminServer } from './admin-server.js'
import { describeDuration } from './approval-link-routes.js'

const TOKEN = 'admin-token-0123456789abcdef'
const LINK_SECRET = 'link-secret-0123456789abcdef0123456789'
const HOOK_SECRET = 'whsec_test_0123456789abcdef'

let served: KillSwitch
let sender: KillSwitch
let server: AdminServer
let hooks: ReturnType<typeof createServer>
const bodies: Array<{ body: string; signature: string }> = []

beforeEach(async () => {
  const store = memoryStore()
  served = createKillSwitch({ store, runaway: false })
  server = await startAdminServer({
    killSwitch: served,
    port: 0,
    token: TOKEN,
    approvalLinks: { secret: LINK_SECRET, grantTtlMs: 1_800_000 },
  })
  bodies.length = 0
  hooks = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk) => {
      body += chunk
    })
    request.on('end', () => {
      bodies.push({ body, signature: String(request.headers['killswitch-signature']) })
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve))
  sender = createKillSwitch({
    store,
    runaway: false,
    allowPrivateWebhooks: ['127.0.0.1'],
    approvalLinks: { baseUrl: server.url, secret: LINK_SECRET },
  })
})

afterEach(async () => {
  await sender.close() // a second close is a no-op
  await server.close()
  await served.close()
  await new Promise<void>((resolve) => hooks.close(() => resolve()))
})

/** An agent asks past its cap; returns the links its webhook carried. */
async function requestApproval(handle = 'asker') {
  const agent = await sender.agents.create({
    handle,
    spendingCap: 1,
    approvals: { enabled: true, waitMs: 0 },
    alerts: [
      {
        thresholdPct: 1,
        webhookUrl: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`,
        secret: HOOK_SECRET,
      },
    ],
  })
  await expect(
    sender.guard(agent.credential).reserveSpend({ amountUsd: 2.5, kind: 'tool', description: 'x' }),
  ).rejects.toMatchObject({ code: 'approval_required' })
  await sender.close()
  const hook = bodies.find((item) => JSON.parse(item.body).type === 'approval_requested')
  if (!hook) throw new Error('no approval_requested webhook')
  expect(verifyWebhookSignature(hook.body, hook.signature, HOOK_SECRET)).toBe(true)
  const event = JSON.parse(hook.body)
  return {
    id: event.approvalId as string,
    approveUrl: event.approveUrl as string,
    denyUrl: event.denyUrl as string,
  }
}

async function open(
  url: string,
  method = 'GET',
  headers: Record<string, string> = {},
  body?: Record<string, string>,
) {
  const response = await fetch(url, {
    method,
    headers,
    redirect: 'manual',
    ...(body === undefined ? {} : { body: new URLSearchParams(body) }),
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** What the confirmation page's form posts: the amount it showed, and who decides. */
const shownIn = (page: string, by = 'alice') => ({
  shown: /name="shown" value="([^"]+)"/.exec(page)?.[1] ?? 'missing',
  by,
})

describe('one-click approval links', () => {
  it('GET shows what approving does and acts on nothing; POST approves once with the requested amount', async () => {
    const { id, approveUrl } = await requestApproval()
    expect(approveUrl.startsWith(`${server.url}/approval-links/${id}/approve?`)).toBe(true)

    const shown = await open(approveUrl)
    expect(shown.status).toBe(200)
    expect(shown.text).toContain('asker may spend up to $2.50 more, for 30 minutes.')
    expect(shown.text).toContain('<form method="post">')
    expect(shown.headers.get('x-frame-options')).toBe('DENY')
    // same-origin: a browser sends the page's own form its real Origin (under no-referrer,
    // `Origin: null`, refused as cross-site: red team rt42b); no other site gets the URL.
    expect(shown.headers.get('referrer-policy')).toBe('same-origin')
    expect(shown.text).toContain('name="by" required')
    expect(shown.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    // A scanner fetching it twice changed nothing.
    await open(approveUrl)
    expect((await served.approvals.get(id)).status).toBe('pending')

    const acted = await open(approveUrl, 'POST', { origin: server.url }, shownIn(shown.text))
    expect(acted.status).toBe(200)
    expect(acted.text).toMatch(/asker may spend up to \$2\.50 more until/)
    const approval = await served.approvals.get(id)
    expect(approval).toMatchObject({
      status: 'approved',
      decidedBy: 'alice (approval link)',
      grant: { amount: 2.5 },
    })
    // Who, and from where, in the audit log.
    const decided = (await served.audit('asker')).find((entry) =>
      entry.summary.includes('approved by alice (approval link)'),
    )
    expect(decided?.summary).toContain('alice (approval link)')
    expect(JSON.stringify(decided?.data)).toMatch(
      /approved through its link from (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)/,
    )
    const ttl = Date.parse(approval.grant?.expiresAt ?? '') - Date.now()
    expect(ttl).toBeGreaterThan(1_700_000)
    expect(ttl).toBeLessThanOrEqual(1_800_000)

    const again = await open(approveUrl, 'POST')
    expect(again.status).toBe(409)
    expect(again.text).toContain('already approved by alice (approval link)')
    expect((await served.agents.get('asker')).grants).toHaveLength(1)
  })

  it('approves what its page showed: a request that grew since is shown again, nothing approved', async () => {
    const { id, approveUrl } = await requestApproval()
    const first = await open(approveUrl)
    expect(shownIn(first.text)).toEqual({ shown: '2.5', by: 'alice' })
    // More calls wait on it now: the request asks for theirs too.
    await served.store.openApproval({
      id: 'apr_joiner',
      handle: 'asker',
      requestedMicros: 2_500_000,
      reason: 'another call',
      ttlMs: 60_000,
      now: Date.now(),
      waits: true,
    })
    const stale = await open(approveUrl, 'POST', {}, shownIn(first.text))
    expect(stale.status).toBe(200)
    expect(stale.text).toContain('The request grew from $2.50 to $5.00 since this page was shown')
    expect((await served.approvals.get(id)).status).toBe('pending')
    // A post without the amount (no page was read) decides nothing either.
    expect((await open(approveUrl, 'POST')).text).toContain('Approve this spend?')
    expect((await served.approvals.get(id)).status).toBe('pending')
    const acted = await open(approveUrl, 'POST', {}, shownIn(stale.text))
    expect(acted.text).toMatch(/asker may spend up to \$5\.00 more until/)
    expect(await served.approvals.get(id)).toMatchObject({
      status: 'approved',
      grant: { amount: 5 },
    })
  })

  it('the deny link denies; its approve twin then answers already decided', async () => {
    const { id, approveUrl, denyUrl } = await requestApproval()
    expect((await open(denyUrl)).text).toContain('Deny this spend?')
    // Without a name nothing is decided; with one, denied, by them.
    expect((await open(denyUrl, 'POST')).text).toContain('Give your name: nothing was decided.')
    expect((await served.approvals.get(id)).status).toBe('pending')
    expect((await open(denyUrl, 'POST', {}, { by: 'bob' })).status).toBe(200)
    expect(await served.approvals.get(id)).toMatchObject({
      status: 'denied',
      decidedBy: 'bob (approval link)',
    })
    const late = await open(approveUrl, 'POST')
    expect(late.status).toBe(409)
    expect(late.text).toContain('already denied')
  })

  it('refuses tampered and expired links, and cross-site posts, before acting', async () => {
    const { id, approveUrl, denyUrl } = await requestApproval()
    // deny's signature on the approve path, another id, a changed expiry, a flipped byte
    const denySig = new URL(denyUrl).searchParams.get('sig') ?? ''
    const swapped = new URL(approveUrl)
    swapped.searchParams.set('sig', denySig)
    const moved = new URL(approveUrl)
    moved.searchParams.set('exp', String(Number(moved.searchParams.get('exp')) + 86_400))
    const flipped = new URL(approveUrl)
    const sig = flipped.searchParams.get('sig') ?? ''
    flipped.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`)
    const otherId = approveUrl.replace(`/${id}/`, '/apr_other/')
    for (const url of [swapped, moved, flipped, otherId]) {
      const response = await open(String(url), 'POST')
      expect(response.status, String(url)).toBe(403)
      expect(response.text).toContain('not valid')
    }
    const expired = approvalLinkUrl(
      { baseUrl: server.url, secret: LINK_SECRET },
      id,
      'approve',
      Date.now() - 1_000,
    )
    expect((await open(expired, 'POST')).status).toBe(410)
    const crossSite = await open(approveUrl, 'POST', { origin: 'https://evil.example' })
    expect(crossSite.status).toBe(403)
    expect((await served.approvals.get(id)).status).toBe('pending')
  })

  it('a validly signed link to a request this store does not have answers 404, both ways', async () => {
    // Signed with the right secret for an id no request has (another store, a wiped one).
    const options = { baseUrl: server.url, secret: LINK_SECRET }
    for (const action of ['approve', 'deny'] as const) {
      const url = approvalLinkUrl(options, 'apr_elsewhere', action, Date.now() + 60_000)
      for (const method of ['GET', 'POST']) {
        const response = await open(url, method, { origin: server.url })
        expect(response.status, `${method} ${action}`).toBe(404)
        expect(response.text).toContain('No such approval request.')
      }
    }
  })

  it('is not served without a secret, and refuses a short one', async () => {
    const plain = await startAdminServer({ killSwitch: served, port: 0, token: TOKEN })
    expect((await open(`${plain.url}/approval-links/apr_1/approve?exp=1&sig=00`)).status).toBe(404)
    await plain.close()
    await expect(
      startAdminServer({
        killSwitch: served,
        port: 0,
        token: TOKEN,
        approvalLinks: { secret: 'short' },
      }),
    ).rejects.toMatchObject({ field: 'approvalLinks.secret' })
    for (const grantTtlMs of [8 * 86_400_000, 500, 1.5e6 + 0.5]) {
      await expect(
        startAdminServer({
          killSwitch: served,
          port: 0,
          token: TOKEN,
          approvalLinks: { secret: LINK_SECRET, grantTtlMs },
        }),
      ).rejects.toMatchObject({ field: 'approvalLinks.grantTtlMs' })
    }
  })

  it('states durations in words', () => {
    expect(describeDuration(3_600_000)).toBe('1 hour')
    expect(describeDuration(1_800_000)).toBe('30 minutes')
    expect(describeDuration(172_800_000)).toBe('2 days')
  })
})
