// Every alert handed to the dispatcher leaves an `alert` audit entry first, so one whose
// process died mid-delivery is found ("an `alert` with no `alert_delivery`", README, Alerts):
// a revocation and a runaway trip as much as a threshold. And what the audit and the alerts
// say reads right: percentages without float noise, a trip's action in on-call's words.
import { describe, expect, it } from 'vitest'
import type { AuditEntry } from '../audit.js'
import { createKillSwitch } from '../kill-switch.js'
import type { RunawayMonitor, RunawayVerdict } from '../runaway/types.js'
import type { Store } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import type { AlertEvent } from './alert-event.js'

const SECRET = 'whsec_test_0123456789abcdef'
const HOOK = 'https://hooks.example.com/T0/secret-path-token'

/** A store whose audit writes, and a dispatcher whose dispatches, go to one ordered log. */
function lostDeliveries() {
  const inner = memoryStore()
  const order: string[] = []
  const lost: AlertEvent[] = []
  const store: Store = {
    ...inner,
    kind: inner.kind,
    appendAudit(entry: AuditEntry) {
      order.push(`audit ${entry.type}${entry.type === 'alert' ? ` ${entry.data.eventType}` : ''}`)
      return inner.appendAudit(entry)
    },
  }
  // The process dies before any delivery ends: no `alert_delivery` is ever written.
  const dispatcher = {
    dispatch: (event: AlertEvent) => {
      order.push(`dispatch ${event.type}`)
      lost.push(event)
    },
    flush: async () => {},
    close: async () => {},
  }
  return { store, order, lost, dispatcher }
}

const monitorFor = (verdicts: RunawayVerdict[]): RunawayMonitor => ({
  observe: async (_agent, observation) =>
    (observation.kind === 'tool_call' ? verdicts.shift() : undefined) ?? {
      action: 'none',
      enforced: true,
    },
})

const finding = (summary: string) => ({
  detector: 'repeated-tool-call',
  status: 'trip' as const,
  summary,
  evidence: { count: 5 },
})

describe('alerts of every kind are audited before they are sent', () => {
  it('a revocation and runaway trips each write an `alert` entry (event id, type, masked URL) before dispatch', async () => {
    const { store, order, lost, dispatcher } = lostDeliveries()
    const ks = createKillSwitch({
      store,
      alerts: dispatcher,
      runaway: monitorFor([
        { action: 'stop', enforced: true, finding: finding('search x5') },
        {
          action: 'block',
          enforced: true,
          finding: finding('search x6; throttled, retry after 5 s'),
        },
      ]),
    })
    const agent = await ks.agents.create({
      handle: 'oncall',
      spendingCap: 10,
      alerts: [{ thresholdPct: 0.9, webhookUrl: HOOK, secret: SECRET }],
    })
    const guard = ks.guard(agent.credential)
    for (const runId of ['run-1', 'run-2']) {
      await expect(guard.beforeToolCall({ name: 'search', args: {}, runId })).rejects.toThrow()
    }
    await ks.agents.revoke('oncall', { reason: 'operator stop' })
    await ks.close()

    expect(lost.map((event) => event.type)).toEqual(['runaway', 'runaway', 'revoked'])
    const audit = await store.readAudit('oncall')
    const alerts = audit.filter((entry) => entry.type === 'alert')
    // The README's check: each lost event is an `alert` with no `alert_delivery`.
    const delivered = new Set(
      audit.filter((entry) => entry.type === 'alert_delivery').map((entry) => entry.data.eventId),
    )
    expect(alerts.map((entry) => entry.data.eventId)).toEqual(lost.map((event) => event.id))
    expect(alerts.filter((entry) => !delivered.has(entry.data.eventId))).toHaveLength(3)
    for (const [i, entry] of alerts.entries()) {
      expect(entry.data).toMatchObject({
        eventType: lost[i]?.type,
        webhookUrl: 'https://hooks.example.com/…',
      })
      expect(JSON.stringify(entry)).not.toContain('secret-path-token')
    }
    // Written first: a process that dies right after the dispatch still has the entry.
    expect(order.filter((line) => line.includes('runaway') || line.includes('revoked'))).toEqual([
      'audit runaway',
      'audit alert runaway',
      'dispatch runaway',
      'audit runaway',
      'audit alert runaway',
      'dispatch runaway',
      // (the `revoked` entry itself is written with the revocation, by the store)
      'audit alert revoked',
      'dispatch revoked',
    ])
    // On-call reads what happened, not the raw action (`block` said beside "throttled").
    expect(lost.map((event) => event.reason)).toEqual([
      'search x5 (run stopped)',
      'search x6; throttled, retry after 5 s',
      'operator stop',
    ])
    expect(alerts[2]?.summary).toBe('oncall was revoked at $0.00 of its $10.00 cap: operator stop')
  })
})

describe('threshold percentages read as people write them', () => {
  it('7% is "7%" in the rule set and in the cap and window crossings, never 7.000000000000001%', async () => {
    const { store, dispatcher, lost } = lostDeliveries()
    const ks = createKillSwitch({ store, alerts: dispatcher, runaway: false })
    const agent = await ks.agents.create({
      handle: 'pct',
      spendingCap: 1,
      limits: [{ amount: 1, per: 'day' }],
      alerts: [{ thresholdPct: 0.07, webhookUrl: HOOK, secret: SECRET }],
    })
    const guard = ks.guard(agent.credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 0.1, kind: 'tool', description: 'x' }),
    )
    await ks.close()
    const summaries = (await store.readAudit('pct'))
      .filter((entry) => entry.type === 'alert_set' || entry.type === 'alert')
      .map((entry) => entry.summary)
      .sort()
    expect(summaries).toEqual([
      'alert at 7% of the cap',
      'its day window: spend $0.1 crossed 7% of $1',
      'spend $0.1 crossed 7% of the $1 cap',
    ])
    expect(lost.map((event) => event.thresholdPct)).toEqual([0.07, 0.07])
  })
})
