// The store refuses a Redis that can lose what it acknowledged: without its append-only file
// (a restart from an RDB snapshot brings a revoked credential back and resets spend) or with
// an eviction policy that may drop ledger keys. allowVolatile: true accepts the risk.
import { randomUUID } from 'node:crypto'
import { type Store, StoreUnavailableError } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let rdbOnly: RedisServer
let admin: Redis
beforeAll(async () => {
  // Snapshots only, the Redis default: what a restart brings back is the last snapshot.
  rdbOnly = await startRedisServer({ args: ['--appendonly', 'no', '--save', '60 1'] })
  admin = new Redis(rdbOnly.url)
})
afterAll(async () => {
  admin?.disconnect()
  await rdbOnly?.dispose()
})

const opened: Store[] = []
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((store) => store.close()))
  await admin.config('SET', 'appendonly', 'no')
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
})
const open = (options: Partial<Parameters<typeof redisStore>[0]> = {}) => {
  const store = redisStore({ url: rdbOnly.url, prefix, ...options })
  opened.push(store)
  return store
}
const prefix = `killswitch-test-${randomUUID()}:`

const refusal = (run: () => Promise<unknown>) =>
  run().then(
    () => undefined,
    (error: unknown) => error,
  )

describe('redisStore durability check', () => {
  it('refuses an RDB-only Redis with a typed error that says how to fix it, writing nothing', async () => {
    const store = open()
    const error = await refusal(() => store.createAgent(testAgentRecord('volatile', 1_000_000)))
    expect(StoreUnavailableError.isInstance(error)).toBe(true)
    const message = (error as Error).message
    expect(message).toContain('appendonly no')
    expect(message).toContain('`appendonly yes`')
    expect(message).toContain('`maxmemory-policy noeviction`')
    expect(message).toContain('allowVolatile: true')
    expect(await admin.keys(`${prefix}*`)).toEqual([])
    // Every operation is refused, reads included, and failOpen does not cover it.
    await expect(store.getAgent('volatile', 1)).rejects.toSatisfy(StoreUnavailableError.isInstance)
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const lenient = open({ failOpen: true })
    await expect(lenient.recordActivity('volatile', { at: 1, kind: 'error' }, 5)).rejects.toSatisfy(
      StoreUnavailableError.isInstance,
    )
    vi.restoreAllMocks()
  })

  it('accepts the same Redis with allowVolatile: true', async () => {
    const store = open({ allowVolatile: true })
    await store.createAgent(testAgentRecord('accepted', 1_000_000))
    expect(
      await store.reserve({
        handle: 'accepted',
        holdId: 'h',
        amountMicros: 5,
        ttlMs: 60_000,
        now: Date.now(),
      }),
    ).toMatchObject({ ok: true })
  })

  it('refuses an eviction policy that may drop keys, and accepts the server once it is fixed', async () => {
    await admin.config('SET', 'appendonly', 'yes')
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    const error = await refusal(() => open().getAgent('anyone', 1))
    expect(StoreUnavailableError.isInstance(error)).toBe(true)
    expect((error as Error).message).toContain('maxmemory-policy allkeys-lru')
    expect((error as Error).message).not.toContain('appendonly no')
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    // Checked again on the next call: fixing the server is enough, no restart of the app.
    const store = opened[0] as Store
    expect(await store.getAgent('anyone', 1)).toBeUndefined()
  })
})
