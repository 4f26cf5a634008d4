// Buffered audit entries ride on a write whose reply times out while Redis, stalled (DEBUG
// SLEEP), runs it when it wakes. The store gives them back and sends them again with its next
// write: the log must hold each once (red team rt41b: one create logged `created` x2, x3).
import { randomUUID } from 'node:crypto'
import { type AuditEntry, StoreUnavailableError } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisKeys } from './redis-keys.js'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
let admin: Redis
beforeAll(async () => {
  redis = await startRedisServer({ args: ['--enable-debug-command', 'yes'] })
  admin = new Redis(redis.url)
})
afterAll(async () => {
  admin?.disconnect()
  await redis?.dispose()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const note = (handle: string, n: number): AuditEntry => ({
  at: 1_000 + n,
  handle,
  type: 'alert_set',
  summary: `note ${n}`,
  data: { n },
})

const opened: ReturnType<typeof redisStore>[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()))
})

/** A store with a short command deadline, its agent created and connection checked. */
async function setUp(handle: string) {
  const prefix = `killswitch-test-${randomUUID()}:`
  const store = redisStore({ url: redis.url, prefix, commandTimeoutMs: 250 })
  opened.push(store)
  await store.createAgent(testAgentRecord(handle, 5_000_000))
  return { store, keys: redisKeys(prefix) }
}

/**
 * Runs `write` while Redis stalls 0.8 s: its reply times out (250 ms deadline), and Redis
 * runs it when it wakes.
 */
async function timesOutButRuns(write: () => Promise<unknown>): Promise<void> {
  const awake = admin.call('DEBUG', 'SLEEP', '0.8')
  await sleep(50)
  await expect(write()).rejects.toThrow(StoreUnavailableError)
  await awake
}

describe('redisStore: buffered audit entries on a write that timed out but ran', {
  timeout: 10_000,
}, () => {
  it('writes the entries a timed-out ledger script carried once, sent again', async () => {
    const { store } = await setUp('ledger')
    // The update carries both entries.
    await timesOutButRuns(() => {
      store.appendAudit(note('ledger', 1))
      store.appendAudit(note('ledger', 2))
      return store.updateAgent('ledger', { capMicros: 6_000_000 }, Date.now())
    })
    // The next write carries them again.
    await store.updateAgent('ledger', { capMicros: 7_000_000 }, Date.now())

    expect(await store.readAudit('ledger')).toEqual([
      { ...note('ledger', 1), seq: 1 },
      { ...note('ledger', 2), seq: 2 },
    ])
    expect(await store.getAgent('ledger', Date.now())).toMatchObject({ capMicros: 7_000_000 })
  })

  it('writes the entries of a timed-out flush once, flushed again', async () => {
    const { store } = await setUp('flushed')
    await timesOutButRuns(() => {
      store.appendAudit(note('flushed', 1))
      return store.flush()
    })
    store.appendAudit(note('flushed', 2))
    await store.flush()

    expect(await store.readAudit('flushed')).toEqual([
      { ...note('flushed', 1), seq: 1 },
      { ...note('flushed', 2), seq: 2 },
    ])
  })

  it('keeps the last 1000 ids of an agent, for a day', async () => {
    const { store, keys } = await setUp('many')
    for (let n = 0; n < 1_200; n++) store.appendAudit(note('many', n))
    await store.flush()

    expect(await store.readAudit('many')).toHaveLength(1_200)
    expect(await admin.zcard(keys.auditIds('many'))).toBe(1_000)
    // The oldest kept is the 201st entry's id (scored by its seq).
    expect(await admin.zrange(keys.auditIds('many'), '0', '0', 'WITHSCORES')).toEqual([
      expect.any(String),
      '201',
    ])
    const ttl = await admin.pttl(keys.auditIds('many'))
    expect(ttl).toBeGreaterThan(86_400_000 - 60_000)
    expect(ttl).toBeLessThanOrEqual(86_400_000)
  })
})
