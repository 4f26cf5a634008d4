import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

const prices = { m: { inputPerMTok: 1_000, outputPerMTok: 1_000 } }

async function setup() {
  const ks = createKillSwitch({ prices, runaway: false })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 10 })
  return { ks, guard: ks.guard(credential) }
}

describe('a provider that refused the request outright', () => {
  it.each([400, 401, 429])(
    'releases the hold when the provider answered %i before any output',
    async (status) => {
      const { ks, guard } = await setup()
      const ticket = await guard.beforeModelCall({ model: 'm', input: 'hi', maxOutputTokens: 100 })
      await guard.failModelCall(ticket, new Error(`HTTP ${status}`), { providerStatus: status })
      expect(await ks.agents.get('a')).toMatchObject({ spent: 0, held: 0 })
      const released = (await ks.audit('a')).find((entry) => entry.type === 'released')
      expect(released?.summary).toContain('refused by the provider')
    },
  )

  it('charges a 5xx, a timeout, or a refusal after output streamed: the work may have been done', async () => {
    for (const [status, streamed] of [
      [500, false],
      [408, false],
      [429, true],
    ] as const) {
      const { ks, guard } = await setup()
      const ticket = await guard.beforeModelCall({ model: 'm', input: 'hi', maxOutputTokens: 100 })
      if (streamed) guard.onOutputDelta(ticket, { text: 'partial answer' })
      await guard.failModelCall(ticket, new Error(`HTTP ${status}`), { providerStatus: status })
      const agent = await ks.agents.get('a')
      expect(agent.held).toBe(0)
      expect(agent.spent).toBeGreaterThan(0)
    }
  })
})
