// createKillSwitch's `alerts` takes a dispatcher: alert rules or a webhook URL given there
// were taken, and every alert then failed unseen (red team rt33: `{}` or a Slack URL sent
// nothing; close() threw a TypeError). They are refused, naming alerts, never the URL.
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'
import { memoryStore } from './stores/memory-store.js'

const SLACK = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX'

describe('createKillSwitch alerts option', () => {
  it('refuses anything but a dispatcher, naming alerts and where rules go, writing nothing', async () => {
    const store = memoryStore()
    for (const alerts of [{}, SLACK, [{ thresholdPct: 0.8, webhookUrl: SLACK }], null, 1]) {
      let caught: unknown
      try {
        createKillSwitch({ store, alerts: alerts as never })
      } catch (error) {
        caught = error
      }
      expect(caught).toMatchObject({ code: 'invalid_config', field: 'alerts' })
      expect((caught as Error).message).toContain('ks.agents.create({ handle, spendingCap, alerts')
      expect((caught as Error).message).not.toContain('hooks.slack.com')
    }
    expect(await store.listAgents(Date.now())).toEqual([])
  })

  it('takes a dispatcher, and closes it', async () => {
    let closed = false
    const ks = createKillSwitch({
      alerts: {
        dispatch: () => undefined,
        flush: async () => undefined,
        close: async () => {
          closed = true
        },
      },
    })
    await ks.close()
    expect(closed).toBe(true)
  })
})
