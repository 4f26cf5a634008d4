// Whose clock judges a lease: by default Redis's own (`TIME`), one clock for the fleet. A
// machine whose clock runs 6 minutes ahead must not lapse (and charge) another machine's
// live hold, nor free its money for itself.
import { randomUUID } from 'node:crypto'
import type { Store } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
let admin: Redis
beforeAll(async () => {
  redis = await startRedisServer()
  admin = new Redis(redis.url)
})
afterAll(async () => {
  admin?.disconnect()
  await redis?.dispose()
})

const opened: Store[] = []
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((store) => store.close()))
})
const open = (options: Partial<Parameters<typeof redisStore>[0]>) => {
  const store = redisStore({ url: redis.url, ...options })
  opened.push(store)
  return store
}
const SKEW_MS = 6 * 60_000

async function serverNow(): Promise<number> {
  const [seconds, micros] = await admin.time()
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000)
}

describe('redisStore clocks', () => {
  it('with the server clock (default), a caller 6 minutes ahead cannot sweep another caller’s live hold', async () => {
    const prefix = `killswitch-test-${randomUUID()}:`
    const onTime = open({ prefix })
    const ahead = open({ prefix })
    await onTime.createAgent(testAgentRecord('skew', 100_000))
    const before = await serverNow()
    const held = await onTime.reserve({
      handle: 'skew',
      holdId: 'long-call',
      amountMicros: 100_000,
      ttlMs: 60_000,
      now: Date.now(),
    })
    const after = await serverNow()
    if (!held.ok) throw new Error('the first reserve must be granted')
    // The lease is measured on Redis's clock, whatever the caller says its time is.
    expect(held.expiresAt).toBeGreaterThanOrEqual(before + 60_000)
    expect(held.expiresAt).toBeLessThanOrEqual(after + 60_000)

    const skewed = Date.now() + SKEW_MS
    expect(
      await ahead.reserve({
        handle: 'skew',
        holdId: 'other',
        amountMicros: 1,
        ttlMs: 60_000,
        now: skewed,
      }),
    ).toMatchObject({ ok: false, reason: 'cap' })
    expect(await ahead.getAgent('skew', skewed)).toMatchObject({
      heldMicros: 100_000,
      spentMicros: 0,
      unreconciledMicros: 0,
    })
    expect((await ahead.listAgents(skewed))[0]).toMatchObject({ heldMicros: 100_000 })
    const behind = await ahead.renew({
      handle: 'skew',
      holdId: 'long-call',
      ttlMs: 60_000,
      now: Date.now() - SKEW_MS,
    })
    expect(behind.renewed).toBe(true)
    expect(behind.expiresAt).toBeGreaterThanOrEqual(held.expiresAt)
    // The owner settles normally: nothing was lapsed, nothing is unreconciled.
    const settled = await onTime.settle({
      handle: 'skew',
      holdId: 'long-call',
      costMicros: 70_000,
      now: Date.now(),
    })
    expect(settled.outcome).toBe('settled')
    expect(settled.agent).toMatchObject({
      spentMicros: 70_000,
      heldMicros: 0,
      unreconciledMicros: 0,
    })
    expect((await onTime.readAudit('skew')).some((entry) => entry.type === 'lapsed')).toBe(false)
  })

  it('on the caller clock the same skew lapses the live hold: what the server clock prevents', async () => {
    const prefix = `killswitch-test-${randomUUID()}:`
    const onTime = open({ prefix, clock: 'caller' })
    const ahead = open({ prefix, clock: 'caller' })
    await onTime.createAgent(testAgentRecord('skew', 100_000))
    const now = Date.now()
    await onTime.reserve({
      handle: 'skew',
      holdId: 'long-call',
      amountMicros: 100_000,
      ttlMs: 60_000,
      now,
    })
    expect(await ahead.getAgent('skew', now + SKEW_MS)).toMatchObject({
      heldMicros: 0,
      spentMicros: 100_000,
      unreconciledMicros: 100_000,
    })
    const settled = await onTime.settle({
      handle: 'skew',
      holdId: 'long-call',
      costMicros: 70_000,
      now,
    })
    expect(settled.outcome).toBe('corrected')
  })

  it('with the server clock, a hold lapses when Redis’s clock passes its lease, whatever the callers say', async () => {
    const prefix = `killswitch-test-${randomUUID()}:`
    const store = open({ prefix })
    await store.createAgent(testAgentRecord('lapse', 100_000))
    const held = await store.reserve({
      handle: 'lapse',
      holdId: 'crashed',
      amountMicros: 40_000,
      ttlMs: 5,
      now: Date.now() - SKEW_MS,
    })
    if (!held.ok) throw new Error('the reserve must be granted')
    while ((await serverNow()) < held.expiresAt)
      await new Promise((resolve) => setTimeout(resolve, 2))
    // A caller far behind still sees the lapse: the server's clock decides.
    expect(await store.getAgent('lapse', 0)).toMatchObject({
      heldMicros: 0,
      spentMicros: 40_000,
      unreconciledMicros: 40_000,
    })
    const lapsed = (await store.readAudit('lapse')).filter((entry) => entry.type === 'lapsed')
    expect(lapsed).toHaveLength(1)
    expect(lapsed[0]?.data).toMatchObject({ holdId: 'crashed', expiredAt: held.expiresAt })
    expect(lapsed[0]?.at).toBeGreaterThanOrEqual(held.expiresAt)
  })
})
