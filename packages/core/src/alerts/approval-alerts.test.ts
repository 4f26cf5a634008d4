// approval_requested reaches the agent's alert webhooks (a real receiver on loopback),
// signed as every alert, audited as every delivery, with signed one-click links; and the
// Slack and PagerDuty formats are delivered signed over the exact body sent.
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createKillSwitch } from '../kill-switch.js'
import { memoryStore } from '../stores/memory-store.js'
import { verifyApprovalLink } from './approval-link.js'
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js'

const received: Array<{ path: string; body: string; headers: IncomingHttpHeaders }> = []
const server = createServer((request, response) => {
  let body = ''
  request.on('data', (chunk) => {
    body += chunk
  })
  request.on('end', () => {
    received.push({ path: request.url ?? '', body, headers: request.headers })
    response.writeHead(204).end()
  })
})
let base = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  received.length = 0
})

const SECRET = 'whsec_test_0123456789abcdef'
const LINK_SECRET = 'link-secret-0123456789abcdef0123456789'

describe('approval_requested alerts', () => {
  it('reach the webhooks signed and audited, with signed approve and deny links', async () => {
    const store = memoryStore()
    const ks = createKillSwitch({
      store,
      runaway: false,
      allowPrivateWebhooks: ['127.0.0.1'],
      approvalLinks: { baseUrl: 'https://ks.example.com', secret: LINK_SECRET },
    })
    const agent = await ks.agents.create({
      handle: 'asker',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
    })
    await ks.agents.setAlert('asker', {
      thresholdPct: 1,
      webhookUrl: `${base}/json`,
      secret: SECRET,
    })
    const guard = ks.guard(agent.credential)
    await expect(
      guard.reserveSpend({ amountUsd: 2, kind: 'tool', description: 'paid search' }),
    ).rejects.toMatchObject({ code: 'approval_required' })
    await ks.close()

    const requests = received.filter(
      (item) => item.headers['killswitch-event-type'] === 'approval_requested',
    )
    expect(requests).toHaveLength(1)
    const item = requests[0] as (typeof requests)[number]
    expect(
      verifyWebhookSignature(
        item.body,
        item.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] as string,
        SECRET,
      ),
    ).toBe(true)
    const body = JSON.parse(item.body)
    const [approval] = await ks.approvals.list({ status: 'pending' })
    expect(body).toMatchObject({
      type: 'approval_requested',
      agent: 'asker',
      approvalId: approval?.id,
      requested: 2,
      expiresAt: approval?.expiresAt,
    })
    expect(item.body).not.toContain(agent.credential)
    for (const action of ['approve', 'deny'] as const) {
      const url = new URL(body[`${action}Url`])
      expect(url.origin + url.pathname).toBe(
        `https://ks.example.com/approval-links/${approval?.id}/${action}`,
      )
      const link = {
        id: approval?.id ?? '',
        action,
        exp: url.searchParams.get('exp'),
        sig: url.searchParams.get('sig'),
      }
      expect(verifyApprovalLink(LINK_SECRET, link, Date.now())).toBe('ok')
      // It expires with the request.
      expect(
        verifyApprovalLink(LINK_SECRET, link, Date.parse(approval?.expiresAt ?? '') + 1000),
      ).toBe('expired')
    }
    const deliveries = (await store.readAudit('asker')).filter(
      (entry) => entry.type === 'alert_delivery',
    )
    expect(deliveries.map((entry) => entry.data)).toContainEqual(
      expect.objectContaining({ eventType: 'approval_requested', ok: true }),
    )
  })

  it('carry no links without approvalLinks, and go out as Slack and PagerDuty bodies, signed', async () => {
    const ks = createKillSwitch({
      store: memoryStore(),
      runaway: false,
      allowPrivateWebhooks: ['127.0.0.1'],
    })
    const agent = await ks.agents.create({
      handle: 'formats',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
      alerts: [
        { thresholdPct: 1, webhookUrl: `${base}/slack`, secret: SECRET, format: 'slack' },
        {
          thresholdPct: 1,
          webhookUrl: `${base}/pd`,
          secret: SECRET,
          format: 'pagerduty',
          routingKey: 'R0UT1NG',
        },
      ],
    })
    expect((await ks.agents.get('formats')).alerts.map((rule) => rule.format)).toEqual([
      'slack',
      'pagerduty',
    ])
    expect(JSON.stringify(await ks.agents.get('formats'))).not.toContain('R0UT1NG')
    await expect(
      ks.guard(agent.credential).reserveSpend({ amountUsd: 2, kind: 'tool', description: 'x' }),
    ).rejects.toMatchObject({ code: 'approval_required' })
    await ks.agents.revoke('formats', { reason: 'done' })
    await ks.close()

    const byPath = (path: string) => received.filter((item) => item.path === path)
    expect(byPath('/slack').map((item) => JSON.parse(item.body).text)).toEqual([
      expect.stringMatching(/^Killswitch: formats asks to spend \$2\.00 past its cap/),
      expect.stringMatching(/^Killswitch: formats was revoked at \$0\.00 of its \$1\.00 cap: done/),
    ])
    expect(byPath('/slack')[0]?.body).not.toContain('approveUrl')
    expect(byPath('/pd').map((item) => JSON.parse(item.body))).toEqual([
      expect.objectContaining({
        routing_key: 'R0UT1NG',
        event_action: 'trigger',
        dedup_key: expect.stringMatching(/^killswitch:formats:approval_requested:/),
      }),
      expect.objectContaining({
        routing_key: 'R0UT1NG',
        dedup_key: 'killswitch:formats:revoked',
        payload: expect.objectContaining({ severity: 'critical' }),
      }),
    ])
    for (const item of received) {
      const header = item.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] as string
      expect(verifyWebhookSignature(item.body, header, SECRET)).toBe(true)
    }
  })

  it('refuse a PagerDuty rule without a routing key, naming the field', async () => {
    const ks = createKillSwitch({ store: memoryStore(), allowPrivateWebhooks: ['127.0.0.1'] })
    await ks.agents.create({ handle: 'pd', spendingCap: 1 })
    await expect(
      ks.agents.setAlert('pd', {
        thresholdPct: 0.5,
        webhookUrl: `${base}/pd`,
        format: 'pagerduty',
      }),
    ).rejects.toMatchObject({ field: 'routingKey' })
    expect((await ks.agents.get('pd')).alerts).toEqual([])
    await ks.close()
  })
})
