// When thresholds are checked: after a settlement, but also when spend grew or a cap shrank
// another way (a lapsed hold charged by a sweep, a lowered cap or limit); a store that fails
// a mark once never loses the alert; and what a process remembers of its marks is bounded.
import { describe, expect, it } from 'vitest'
import { createAlerting, MAX_DECIDED_MARKS } from '../alerting.js'
import { EventHub } from '../events.js'
import { createKillSwitch } from '../kill-switch.js'
import type { AgentRecord, Store } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import type { AlertEvent } from './alert-event.js'
import type { WebhookTarget } from './webhook-dispatcher.js'

const SECRET = 'whsec_test_0123456789abcdef'

/** A dispatcher that records what it is given. */
function recorder() {
  const sent: Array<{ event: AlertEvent; target: WebhookTarget }> = []
  return {
    sent,
    dispatcher: {
      dispatch: (event: AlertEvent, target: WebhookTarget) => void sent.push({ event, target }),
      flush: async () => {},
      close: async () => {},
    },
    thresholds: () =>
      sent
        .filter(({ event }) => event.type === 'threshold')
        .map(({ event, target }) => `${event.per ?? 'cap'}@${event.thresholdPct} -> ${target.url}`),
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('a failed mark is asked again', () => {
  it('a store blip on the threshold mark does not lose the alert: the next spend alerts', async () => {
    const inner = memoryStore()
    let failures = 1
    const store: Store = {
      ...inner,
      kind: inner.kind,
      async markOnce(handle, key) {
        if (failures-- > 0) throw new Error('store blip (ECONNRESET)')
        return inner.markOnce(handle, key)
      },
    }
    const errors: unknown[] = []
    const { sent, dispatcher, thresholds } = recorder()
    const ks = createKillSwitch({
      store,
      runaway: false,
      alerts: dispatcher,
      onError: (error) => errors.push(error),
    })
    const agent = await ks.agents.create({ handle: 'blip', spendingCap: 10 })
    await ks.agents.setAlert('blip', {
      thresholdPct: 0.5,
      webhookUrl: 'https://hooks.example.com/a',
      secret: SECRET,
    })
    const guard = ks.guard(agent.credential)
    const spend = async (amountUsd: number) => {
      await guard.settleSpend(
        await guard.reserveSpend({ amountUsd, kind: 'tool', description: 'x' }),
      )
      await tick()
    }
    await spend(6) // crosses 50%: the mark fails
    expect(sent).toEqual([])
    expect(String(errors[0])).toMatch(/store blip/)
    await spend(1) // asked again: the store is back
    await spend(1) // once only
    await ks.close()
    expect(thresholds()).toEqual(['cap@0.5 -> https://hooks.example.com/a'])
    expect(sent[0]?.event).toMatchObject({ spent: 7, spendingCap: 10 })
  })
})

describe('thresholds crossed with no settlement', () => {
  it('a cap lowered under what is spent alerts', async () => {
    const { dispatcher, thresholds } = recorder()
    const ks = createKillSwitch({ store: memoryStore(), runaway: false, alerts: dispatcher })
    const agent = await ks.agents.create({ handle: 'bot', spendingCap: 100 })
    for (const pct of [0.8, 1]) {
      await ks.agents.setAlert('bot', {
        thresholdPct: pct,
        webhookUrl: `https://hooks.example.com/${pct}`,
        secret: SECRET,
      })
    }
    const guard = ks.guard(agent.credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 50, kind: 'tool', description: 'x' }),
    )
    await tick()
    expect(thresholds()).toEqual([])
    await ks.agents.update('bot', { spendingCap: 50 })
    await ks.agents.get('bot') // a read finds nothing new: no second alert
    await ks.close()
    expect(thresholds()).toEqual([
      'cap@0.8 -> https://hooks.example.com/0.8',
      'cap@1 -> https://hooks.example.com/1',
    ])
  })

  it('a window limit lowered under what is spent in it alerts', async () => {
    const { dispatcher, thresholds } = recorder()
    const ks = createKillSwitch({ store: memoryStore(), runaway: false, alerts: dispatcher })
    const agent = await ks.agents.create({
      handle: 'win',
      spendingCap: 100,
      limits: [{ amount: 10, per: 'day' }],
      alerts: [{ thresholdPct: 0.5, webhookUrl: 'https://hooks.example.com/w', secret: SECRET }],
    })
    const guard = ks.guard(agent.credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 3, kind: 'tool', description: 'x' }),
    )
    await tick()
    expect(thresholds()).toEqual([])
    await ks.agents.update('win', { limits: [{ amount: 5, per: 'day' }] })
    await ks.close()
    expect(thresholds()).toEqual(['day@0.5 -> https://hooks.example.com/w'])
  })

  /**
   * An agent alerting at 80% whose $9 hold was taken by a spender that died before settling
   * (its own kill switch, never closed), and the lease run out.
   */
  async function lapsedHold() {
    let clock = Date.parse('2026-03-01T10:00:00Z')
    const store = memoryStore()
    const { dispatcher, thresholds } = recorder()
    const options = { store, runaway: false as const, now: () => clock, holdTtlMs: 1_000 }
    const ks = createKillSwitch({ ...options, alerts: dispatcher })
    const agent = await ks.agents.create({ handle: 'payer', spendingCap: 10 })
    await ks.agents.setAlert('payer', {
      thresholdPct: 0.8,
      webhookUrl: 'https://hooks.example.com/80',
      secret: SECRET,
    })
    const spender = createKillSwitch({ ...options, alerts: recorder().dispatcher })
    await spender
      .guard(agent.credential)
      .reserveSpend({ amountUsd: 9, kind: 'payment', description: 'POST /pay' })
    clock += 2_000
    return { ks, store, credential: agent.credential, thresholds }
  }

  it('a lapsed hold charged by a sweep alerts when the agent is read (get or list)', async () => {
    for (const read of ['get', 'list'] as const) {
      const { ks, store, thresholds } = await lapsedHold()
      const seen = read === 'get' ? await ks.agents.get('payer') : (await ks.agents.list())[0]
      expect(seen).toMatchObject({ spent: 9, unreconciled: 9 })
      await ks.close()
      expect(thresholds()).toEqual(['cap@0.8 -> https://hooks.example.com/80'])
      const audit = await store.readAudit('payer')
      expect(audit.map((entry) => entry.type)).toContain('lapsed')
      expect(audit.filter((entry) => entry.type === 'alert')).toHaveLength(1)
    }
  })

  it('a lapsed hold charged by the sweep of the next reserve alerts', async () => {
    const { ks, credential, thresholds } = await lapsedHold()
    // Nobody reads the agent: its next reserve sweeps the lapse.
    const guard = ks.guard(credential)
    await guard.releaseSpend(
      await guard.reserveSpend({ amountUsd: 0.5, kind: 'payment', description: 'next' }),
      { reason: 'not sent' },
    )
    await ks.close()
    expect(thresholds()).toEqual(['cap@0.8 -> https://hooks.example.com/80'])
  })
})

describe('a revocation reason never carries a secret', () => {
  it('masks a provider key and a credential typed into the reason everywhere it goes', async () => {
    const store = memoryStore()
    const { sent, dispatcher } = recorder()
    const ks = createKillSwitch({ store, runaway: false, alerts: dispatcher })
    const { credential } = await ks.agents.create({ handle: 'bot', spendingCap: 10 })
    await ks.agents.setAlert('bot', {
      thresholdPct: 0.8,
      webhookUrl: 'https://hooks.slack.com/services/T0/B0/abc',
      secret: SECRET,
      format: 'slack',
    })
    const key = 'sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678Stu901'
    const revoked = await ks.agents.revoke('bot', {
      reason: `leaked: OPENAI_API_KEY=${key} and its credential ${credential}`,
    })
    await ks.close()
    const places = {
      revoked: JSON.stringify(revoked),
      get: JSON.stringify(await createKillSwitch({ store }).agents.get('bot')),
      audit: JSON.stringify(await store.readAudit('bot')),
      alert: JSON.stringify(sent.map(({ event }) => event)),
    }
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [key, key.slice(8, 30), credential, credential.slice(3, 20)]) {
        expect(text, place).not.toContain(secret)
      }
    }
    // What the reason said otherwise is kept.
    expect(revoked.revokedReason).toMatch(/^leaked: OPENAI_API_KEY=\[redacted\] and its credential/)
    expect(sent.find(({ event }) => event.type === 'revoked')?.event.reason).toBe(
      revoked.revokedReason,
    )
  })
})

describe('marks remembered by a process are bounded', () => {
  it('keeps at most MAX_DECIDED_MARKS, dropping ended windows first, and still alerts each window once', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z')
    const marked = new Set<string>()
    // A store whose every window is over its limit: each minute's window crosses.
    const store = {
      kind: 'fake',
      getBudget: async () => undefined,
      readUsage: async (keys: readonly string[]) =>
        keys.map(() => ({ spentMicros: 2_000_000, heldMicros: 0 })),
      markOnce: async (handle: string, key: string) => {
        const mark = `${handle}\u0000${key}`
        if (marked.has(mark)) return false
        marked.add(mark)
        return true
      },
    } as unknown as Store
    const { sent, dispatcher } = recorder()
    const alerting = createAlerting({
      store,
      events: new EventHub(() => {}),
      dispatcher,
      now: () => clock,
      audit: () => {},
      onError: (error) => {
        throw error
      },
    })
    const agent: AgentRecord = {
      handle: 'busy',
      credentialHash: 'x',
      status: 'active',
      capMicros: 1e12,
      spentMicros: 0,
      heldMicros: 0,
      unreconciledMicros: 0,
      currency: 'usd',
      createdAt: clock,
      updatedAt: clock,
      policy: {
        runaway: {},
        alerts: [0.5, 0.8, 1].map((pct) => ({
          thresholdPct: pct,
          webhookUrl: `https://hooks.example.com/${pct}`,
          secret: SECRET,
        })),
      },
      limits: [{ per: 'minute', amountMicros: 1_000_000 }],
      budgets: [],
      grants: [],
    }
    const minutes = 2 * MAX_DECIDED_MARKS
    for (let i = 1; i <= minutes; i++) {
      clock += 60_000
      alerting.afterSpend({ ...agent, spentMicros: i * 2_000_000 })
      alerting.afterSpend({ ...agent, spentMicros: i * 2_000_000 }) // nothing new
      await alerting.flush()
      expect(alerting.remembered).toBeLessThanOrEqual(MAX_DECIDED_MARKS)
    }
    expect(sent).toHaveLength(3 * minutes)
  })
})

describe('an alert that was never delivered can be told apart', () => {
  it("the threshold's audit entry carries the eventId of its webhook", async () => {
    const store = memoryStore()
    const { sent, dispatcher } = recorder()
    const ks = createKillSwitch({ store, runaway: false, alerts: dispatcher })
    const agent = await ks.agents.create({
      handle: 'ids',
      spendingCap: 10,
      limits: [{ amount: 8, per: 'day' }],
      alerts: [{ thresholdPct: 0.5, webhookUrl: 'https://hooks.example.com/a', secret: SECRET }],
    })
    const guard = ks.guard(agent.credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 6, kind: 'tool', description: 'x' }),
    )
    await ks.close()
    const alerts = (await store.readAudit('ids')).filter((entry) => entry.type === 'alert')
    expect(alerts).toHaveLength(2) // the cap's 50% and the day window's
    expect(alerts.map((entry) => entry.data.eventId).sort()).toEqual(
      sent.map(({ event }) => event.id).sort(),
    )
  })
})
