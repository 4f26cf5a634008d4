// ks.close() waits for alert deliveries for a bounded time: a receiver that never answers
// must not hold a shutdown past its grace period (red team rt42b: 150 s for 24 alerts), and
// what was abandoned is in the audit log before close returns.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from '../kill-switch.js'
import { memoryStore } from '../stores/memory-store.js'

describe('ks.close() with a receiver that never answers', () => {
  it('returns after webhookDelivery.closeTimeoutMs, the abandoned alert audited', async () => {
    const hanging = createServer(() => {
      // never answered
    })
    hanging.listen(0, '127.0.0.1')
    await once(hanging, 'listening')
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`
    try {
      const store = memoryStore()
      const ks = createKillSwitch({
        store,
        allowPrivateWebhooks: ['127.0.0.1'],
        webhookDelivery: { closeTimeoutMs: 300 },
      })
      await ks.agents.create({
        handle: 'a',
        spendingCap: 5,
        alerts: [{ thresholdPct: 0.5, webhookUrl: url }],
      })
      await ks.agents.revoke('a', { reason: 'looping' })

      const started = performance.now()
      await ks.close()

      expect(performance.now() - started).toBeLessThan(4_000)
      const deliveries = (await store.readAudit('a')).filter(
        (entry) => entry.type === 'alert_delivery',
      )
      expect(deliveries).toHaveLength(1)
      expect(deliveries[0]?.summary).toMatch(/revoked alert NOT delivered .* abandoned after/)
    } finally {
      hanging.closeAllConnections()
      hanging.close()
    }
  })
})
