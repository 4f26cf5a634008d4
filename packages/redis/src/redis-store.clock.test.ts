// Whose clock judges a lease: by default Redis's own (`TIME`), one clock for the fleet. A
// machine whose clock runs 6 minutes ahead must not lapse (and charge) another machine's
// live hold, nor free its money for itself.
import { randomUUID } from 'node:crypto'
import type { Store } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { redisStore } from './redis-store.js'
import { useRedisServer } from './test-support/redis-servers.js'

const server = useRedisServer()

const opened: Store[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.allSettled(opened.splice(0).map((store) => store.close()))
})
const open = (options: Partial<Parameters<typeof redisStore>[0]>) => {
  const store = redisStore({ url: server.redis.url, ...options })
  opened.push(store)
  return store
}
const SKEW_MS = 6 * 60_000

async function serverNow(): Promise<number> {
  const [seconds, micros] = await server.admin.time()
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

  it('with the server clock, windows are Redis’s windows, and a machine 6 minutes ahead still pays one round trip per reserve', async () => {
    // This process's clock runs 6 minutes ahead of Redis's.
    const realNow = Date.now.bind(Date)
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + SKEW_MS)
    const client = new Redis(server.redis.url)
    let sent = 0
    const send = client.sendCommand.bind(client)
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++
      return send(...args)
    }) as Redis['sendCommand']
    const prefix = `killswitch-test-${randomUUID()}:`
    const ahead = redisStore({ client, prefix })
    opened.push(ahead)
    await ahead.createAgent(testAgentRecord('windows', 1_000_000))
    await ahead.updateAgent(
      'windows',
      { limits: [{ amountMicros: 500_000, per: 'minute' }] },
      Date.now() + SKEW_MS,
    )
    const before = await serverNow()
    const first = await ahead.reserve({
      handle: 'windows',
      holdId: 'w0',
      amountMicros: 1,
      ttlMs: 60_000,
      now: Date.now() + SKEW_MS,
    })
    const after = await serverNow()
    if (!first.ok) throw new Error('the reserve must be granted')
    const minute = (at: number) => `agent:windows/minute@${Math.floor(at / 60_000) * 60_000}`
    expect([minute(before), minute(after)]).toContain(first.levels[0])
    // Once the store has seen Redis's clock, a reserve is one script again (a store that
    // kept its own skewed clock would pay two every time: 6).
    const start = sent
    for (let i = 1; i <= 3; i++) {
      const result = await ahead.reserve({
        handle: 'windows',
        holdId: `w${i}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: Date.now() + SKEW_MS,
      })
      expect(result.ok).toBe(true)
    }
    // One more at most: Redis's minute may roll over once between them.
    expect(sent - start).toBeLessThanOrEqual(4)
    vi.restoreAllMocks()
    await ahead.close()
    client.disconnect()
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
