// Calls refused because Redis stalled past the command timeout were never sent, yet Redis
// runs their reserve scripts once it wakes. Their holds are released (the guard's outbox),
// not left to lapse and be charged as spend. The stall is a real one: DEBUG SLEEP.
import { randomUUID } from 'node:crypto'
import { createKillSwitch, StoreUnavailableError } from '@killswitch/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer({ args: ['--enable-debug-command', 'yes'] })
})
afterAll(async () => {
  await redis?.dispose()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('redisStore stalled past the command timeout during reserves', () => {
  it('releases the holds of the refused calls once Redis runs them: nothing lapses or is charged', {
    timeout: 30_000,
  }, async () => {
    const prefix = `killswitch-test-${randomUUID()}:`
    const store = redisStore({ url: redis.url, prefix, commandTimeoutMs: 250 })
    const ks = createKillSwitch({
      store,
      prices: { m: { inputPerMTok: 3, outputPerMTok: 15 } },
      holdTtlMs: 1_500,
    })
    const admin = new Redis(redis.url)
    try {
      const agent = await ks.agents.create({ handle: 'stall', spendingCap: 1 })
      const guard = ks.guard(agent.credential)
      await guard.check() // connected, durability checked, revocation feed caught up

      const asleep = admin.call('DEBUG', 'SLEEP', '0.8')
      await sleep(50)
      const calls = await Promise.allSettled(
        Array.from({ length: 10 }, () =>
          guard.startModelCall({ model: 'm', input: 'hello', maxOutputTokens: 1_000 }),
        ),
      )
      // Fail closed: every call refused, none sent.
      for (const call of calls) {
        expect(call.status === 'rejected' && call.reason instanceof StoreUnavailableError).toBe(
          true,
        )
      }
      await asleep

      // Redis ran the ten reserves after its stall, and the releases after them.
      await vi.waitFor(
        async () => {
          const types = (await store.readAudit('stall')).map((entry) => entry.type)
          expect(types.filter((type) => type === 'hold')).toHaveLength(10)
          expect(types.filter((type) => type === 'released')).toHaveLength(10)
        },
        { timeout: 10_000, interval: 50 },
      )
      expect(await store.getAgent('stall', Date.now())).toMatchObject({ heldMicros: 0 })
      await sleep(1_600) // past every lease
      expect(await store.getAgent('stall', Date.now())).toMatchObject({
        heldMicros: 0,
        spentMicros: 0,
        unreconciledMicros: 0,
      })
      const audit = await store.readAudit('stall')
      expect(audit.filter((entry) => entry.type === 'lapsed')).toEqual([])
      for (const entry of audit.filter((item) => item.type === 'released')) {
        expect(entry.data).toMatchObject({
          reason: 'not sent: the store did not answer its reserve',
          outcome: 'released',
        })
      }
    } finally {
      admin.disconnect()
      await ks.close()
      await store.close()
    }
  })
})
