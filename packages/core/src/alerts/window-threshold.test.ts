// Threshold alerts per level and window: the agent's rules watch its own windows and its
// budgets' windows; each window's crossing fires once (across kill switches sharing the
// store), and again in the next window.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKillSwitch } from '../kill-switch.js'
import { memoryStore } from '../stores/memory-store.js'
import { verifyWebhookSignature } from './webhook-signature.js'

const received: Array<{ body: string; signature: string }> = []
const server = createServer((request, response) => {
  let body = ''
  request.on('data', (chunk) => {
    body += chunk
  })
  request.on('end', () => {
    received.push({ body, signature: String(request.headers['killswitch-signature']) })
    response.writeHead(204).end()
  })
})
let url = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const SECRET = 'whsec_test_0123456789abcdef'

describe('threshold alerts per window', () => {
  it('fire once per window crossing, for the agent window and the budget window', async () => {
    let clock = Date.parse('2026-12-01T10:00:00Z')
    const store = memoryStore()
    const options = {
      store,
      runaway: false as const,
      now: () => clock,
      allowPrivateWebhooks: ['127.0.0.1'],
    }
    const ks = createKillSwitch(options)
    await ks.budgets.create({ id: 'team', limits: [{ amount: 10, per: 'day' }] })
    const agent = await ks.agents.create({
      handle: 'w',
      spendingCap: 100,
      limits: [{ amount: 4, per: 'hour' }],
      budgets: ['team'],
      alerts: [{ thresholdPct: 0.5, webhookUrl: url, secret: SECRET }],
    })
    // Each spend in a kill switch of its own (as separate processes would): only the
    // store's mark can keep a crossing from firing twice.
    const spend = async (amountUsd: number) => {
      const killSwitch = createKillSwitch(options)
      const guard = killSwitch.guard(agent.credential)
      await guard.settleSpend(
        await guard.reserveSpend({ amountUsd, kind: 'tool', description: 'x' }),
      )
      await killSwitch.close() // flushes marks and deliveries
    }
    await ks.close()
    await spend(2) // hour 2/4: crosses 50%
    await spend(1) // hour 3/4: already crossed in this hour
    await spend(0.5)
    clock += 3_600_000
    await spend(2) // the next hour 2/4 crosses again; team's day 5.5/10 crosses 50%
    await spend(1)

    const bodies = received.map((item) => {
      expect(verifyWebhookSignature(item.body, item.signature, SECRET)).toBe(true)
      return JSON.parse(item.body)
    })
    expect(
      bodies.map((body) => [body.type, body.level, body.budgetId, body.per, body.windowSpent]),
    ).toEqual([
      ['threshold', 'agent', undefined, 'hour', 2],
      ['threshold', 'agent', undefined, 'hour', 2],
      ['threshold', 'budget', 'team', 'day', 5.5],
    ])
    expect(bodies[0]).toMatchObject({
      thresholdPct: 0.5,
      windowAmount: 4,
      windowResetsAt: '2026-12-01T11:00:00.000Z',
    })
    const alerts = (await store.readAudit('w')).filter((entry) => entry.type === 'alert')
    expect(alerts.map((entry) => entry.summary)).toEqual([
      'its hour window: spend $2 crossed 50% of $4',
      'its hour window: spend $2 crossed 50% of $4',
      'budget team day window: spend $5.5 crossed 50% of $10',
    ])
  })
})
