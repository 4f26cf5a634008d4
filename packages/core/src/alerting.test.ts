import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from './alerts/webhook-signature.js'
import { createKillSwitch } from './kill-switch.js'
import { memoryStore } from './stores/memory-store.js'

// A real on-call receiver on loopback.
const received: Array<{ body: string; headers: IncomingHttpHeaders }> = []
const server = createServer((request, response) => {
  let body = ''
  request.on('data', (chunk) => {
    body += chunk
  })
  request.on('end', () => {
    received.push({ body, headers: request.headers })
    // /down plays a receiver that is failing.
    response.writeHead(request.url === '/down' ? 500 : 204).end()
  })
})
let url = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/killswitch`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('alerts: signed webhooks by default', () => {
  it('posts a signed threshold alert once, then a revocation alert, and audits each delivery', async () => {
    const secret = 'whsec_test_0123456789abcdef'
    const store = memoryStore()
    const ks = createKillSwitch({
      store,
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
      // The receiver is on loopback: opt in, as an operator would.
      allowPrivateWebhooks: ['127.0.0.1'],
    })
    const agent = await ks.agents.create({ handle: 'alerted', spendingCap: 0.01 })
    await ks.agents.setAlert('alerted', { thresholdPct: 0.8, webhookUrl: url, secret })
    const guard = ks.guard(agent.credential)
    for (let i = 0; i < 5; i++) {
      const ticket = await guard.beforeModelCall({
        model: 'm',
        input: `step ${i}`,
        maxOutputTokens: 10,
      })
      await guard.afterModelCall(ticket, {
        usage: { inputTokens: 1_000, outputTokens: 1_000 },
        text: `${i}`,
      })
    }
    await ks.agents.revoke('alerted', { reason: 'loop in search tool' })
    await ks.close()

    const bodies = received.map((item) => JSON.parse(item.body))
    expect(bodies.map((body) => body.type)).toEqual(['threshold', 'revoked'])
    expect(bodies[0]).toMatchObject({
      agent: 'alerted',
      thresholdPct: 0.8,
      spent: 0.008,
      spendingCap: 0.01,
    })
    expect(bodies[1]).toMatchObject({ agent: 'alerted', reason: 'loop in search tool' })
    for (const item of received) {
      const header = item.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] as string
      expect(verifyWebhookSignature(item.body, header, secret)).toBe(true)
      expect(verifyWebhookSignature(item.body, header, 'whsec_wrong_0123456789abcdef')).toBe(false)
      expect(item.body).not.toContain(agent.credential)
    }
    // close() flushed the deliveries; the store (ours, so still open) has their outcomes.
    const deliveries = (await store.readAudit('alerted')).filter(
      (entry) => entry.type === 'alert_delivery',
    )
    expect(deliveries.map((entry) => entry.data)).toEqual([
      expect.objectContaining({ eventType: 'threshold', ok: true, attempts: 1 }),
      expect.objectContaining({ eventType: 'revoked', ok: true, attempts: 1 }),
    ])
  })

  it('alerts a revocation once: again on a retry of a revoke that failed after its write, never twice', async () => {
    received.length = 0
    const inner = memoryStore()
    let failAfterWrite = true
    // A store whose revoke is written and then fails (a cluster's second step, say).
    const store: typeof inner = {
      ...inner,
      async revokeAgent(...args) {
        const result = await inner.revokeAgent(...args)
        if (failAfterWrite) {
          failAfterWrite = false
          throw new Error('connection reset after the write')
        }
        return result
      },
    }
    const ks = createKillSwitch({ store, allowPrivateWebhooks: ['127.0.0.1'] })
    await ks.agents.create({ handle: 'retried', spendingCap: 1 })
    await ks.agents.setAlert('retried', { thresholdPct: 0.9, webhookUrl: url })
    await expect(ks.agents.revoke('retried', { reason: 'first try' })).rejects.toThrow()
    await ks.agents.revoke('retried', { reason: 'retry' })
    await ks.agents.revoke('retried', { reason: 'again' })
    await ks.close()
    const revoked = received
      .map((item) => JSON.parse(item.body))
      .filter((b) => b.type === 'revoked')
    expect(revoked).toHaveLength(1)
    // The first reason stands: the one the revocation was written with.
    expect(revoked[0]).toMatchObject({ agent: 'retried', reason: 'first try' })
  })

  it('tunes the default delivery: one attempt, the failure audited, nothing retried', async () => {
    const store = memoryStore()
    const ks = createKillSwitch({
      store,
      webhookDelivery: { maxAttempts: 1 },
      allowPrivateWebhooks: ['127.0.0.1'],
    })
    await ks.agents.create({ handle: 'oncall-down', spendingCap: 1 })
    await ks.agents.setAlert('oncall-down', {
      thresholdPct: 0.5,
      webhookUrl: url.replace('/hooks/killswitch', '/down'),
    })
    const before = received.length
    await ks.agents.revoke('oncall-down', { reason: 'test' })
    await ks.close()
    expect(received.length - before).toBe(1)
    const delivery = (await store.readAudit('oncall-down')).find(
      (entry) => entry.type === 'alert_delivery',
    )
    expect(delivery?.data).toMatchObject({
      eventType: 'revoked',
      ok: false,
      attempts: 1,
      status: 500,
    })
  })
})
