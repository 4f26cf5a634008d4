// A settle that cannot reach Redis is not lost: the kill switch's settlement outbox keeps
// it and retries with backoff, and it lands once Redis is back (money that left is spent).
import { randomUUID } from 'node:crypto'
import { createKillSwitch, StoreUnavailableError } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.dispose()
})

describe('redisStore outage during a settle', () => {
  it('a settle refused during an outage lands after Redis returns, once', {
    timeout: 30_000,
  }, async () => {
    const store = redisStore({ url: redis.url, prefix: `killswitch-test-${randomUUID()}:` })
    const ks = createKillSwitch({ store })
    const agent = await ks.agents.create({ handle: 'outage-settle', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.reserveSpend({
      amountUsd: 0.4,
      kind: 'payment',
      description: 'GET https://api.example.com/search',
    })
    expect(await store.getAgent('outage-settle', Date.now())).toMatchObject({ heldMicros: 400_000 })

    await redis.stop()
    // The caller hears the outage (fail closed) ...
    await expect(guard.settleSpend(ticket, { amountUsd: 0.25 })).rejects.toSatisfy(
      StoreUnavailableError.isInstance,
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    await redis.start() // its append-only file brings the hold back
    // ... and the settlement is delivered anyway, once Redis is back.
    await vi.waitFor(
      async () =>
        expect(await store.getAgent('outage-settle', Date.now())).toMatchObject({
          spentMicros: 250_000,
          heldMicros: 0,
          unreconciledMicros: 0,
        }),
      { timeout: 20_000, interval: 50 },
    )
    const settled = (await store.readAudit('outage-settle')).filter(
      (entry) => entry.type === 'settled',
    )
    expect(settled).toHaveLength(1)
    expect(settled[0]?.data).toMatchObject({ holdId: ticket.id, outcome: 'settled', cost: 0.25 })
    await ks.close()
    await store.close()
  })
})
