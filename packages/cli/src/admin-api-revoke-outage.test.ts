// A revoke through the admin API while the store cannot even be read (Redis paused): the
// revoke is still made (no read before it can stop it), answered 503 "not written yet", and
// queued until the store takes it.
import { createKillSwitch, memoryStore } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { startAdminServer } from './admin-server.js'

const TOKEN = 'admin-token-0123456789abcdef'

describe('admin API: a revoke while the store is out', () => {
  it('is queued, not dropped by a read that fails first', async () => {
    const store = memoryStore()
    const ks = createKillSwitch({ store })
    const worker = createKillSwitch({ store }) // another process on the same store
    const { credential } = await ks.agents.create({ handle: 'bot', spendingCap: 10 })
    const server = await startAdminServer({ killSwitch: ks, port: 0, token: TOKEN, log: () => {} })
    try {
      const getAgent = store.getAgent.bind(store)
      let out = true
      store.getAgent = (...args) => {
        if (out) throw new Error('Command timed out')
        return getAgent(...args)
      }
      const response = await fetch(`${server.url}/v1/agents/bot/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      expect(response.status).toBe(503)
      const answer = (await response.json()) as { error: { message: string } }
      expect(answer.error.message).toContain('not written yet')

      out = false
      for (let i = 0; i < 100 && (await worker.verify(credential)).active; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(await worker.verify(credential)).toEqual({ active: false })
    } finally {
      await server.close()
      await ks.close()
      await worker.close()
    }
  })
})
