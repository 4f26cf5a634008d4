// What the Redis store does when things go wrong: unreachable Redis, a missed pub/sub
// message, a bad option, failOpen, and sharing a Redis with another deployment.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import {
  InvalidConfigError,
  type Store,
  type StoreEvent,
  StoreUnavailableError,
} from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { redisStore } from './redis-store.js'
import { resolveOptions } from './redis-store-options.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.dispose()
})

const opened: Store[] = []
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((store) => store.close()))
  vi.restoreAllMocks()
})
const open = (options: Parameters<typeof redisStore>[0]) => {
  const store = redisStore(options)
  opened.push(store)
  return store
}
const newPrefix = () => `killswitch-test-${randomUUID()}:`

/** A loopback port with nothing listening on it. */
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1))
    })
  })
}

const reserveOne = async (store: Store, handle = 'a') =>
  store.reserve({
    handle,
    holdId: randomUUID(),
    amountMicros: 1,
    ttlMs: 60_000,
    now: Date.now(),
  })

describe('redisStore failures', () => {
  it('fails closed with StoreUnavailableError when Redis cannot be reached, without the password', async () => {
    const store = open({ url: `redis://:s3cret-password@127.0.0.1:${await deadPort()}` })
    const error = await reserveOne(store).catch((caught: unknown) => caught)
    expect(StoreUnavailableError.isInstance(error)).toBe(true)
    expect((error as Error).message).toMatch(
      /Redis at redis:\/\/127\.0\.0\.1:\d+ could not reserve/,
    )
    expect((error as Error).message).not.toContain('s3cret-password')
    // And again, now that the client is reconnecting: refused at once, never queued.
    await expect(store.getAgent('a', 1)).rejects.toSatisfy(StoreUnavailableError.isInstance)
  })

  it('says why the first connection failed: nothing listening, a wrong password, none given', async () => {
    const secured = await startRedisServer({ args: ['--requirepass', 'right-pass-123'] })
    try {
      const cases = [
        [`redis://127.0.0.1:${await deadPort()}`, /nothing listens at that address/],
        [`redis://:wrong-pass-456@127.0.0.1:${secured.port}`, /refused the username or password/],
        [`redis://127.0.0.1:${secured.port}`, /requires a password \(NOAUTH\)/],
      ] as const
      for (const [url, why] of cases) {
        const error = await reserveOne(open({ url })).catch((caught: unknown) => caught)
        expect(StoreUnavailableError.isInstance(error), url).toBe(true)
        expect((error as Error).message).toMatch(why)
        expect((error as Error).message).not.toContain('wrong-pass-456')
      }
      // The right password connects (the store then checks the server's durability).
      const right = open({ url: `redis://:right-pass-123@127.0.0.1:${secured.port}` })
      const error = await reserveOne(right).catch((caught: unknown) => caught)
      expect(error === undefined || !/password|NOAUTH/.test(String(error))).toBe(true)
    } finally {
      await secured.dispose()
    }
  })

  it('publishes a revocation it missed while its subscription was down, once it reconnects', async () => {
    const prefix = newPrefix()
    const store = open({ url: redis.url, prefix })
    await store.createAgent(testAgentRecord('missed', 1_000))
    const heard: StoreEvent[] = []
    store.subscribe((event) => heard.push(event))
    expect((await reserveOne(store, 'missed')).ok).toBe(true) // subscribed and caught up
    const admin = new Redis(redis.url)
    // Revoke the way the script does, minus the PUBLISH: exactly what a subscriber that was
    // disconnected at that moment would have missed.
    const [seconds, micros] = await admin.time()
    await admin.hset(
      `${prefix}agent:missed`,
      'status',
      'revoked',
      'revokedAt',
      '5',
      'revokedReason',
      'while you were away',
    )
    await admin.zadd(
      `${prefix}revocations`,
      Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000),
      'missed',
    )
    expect(heard).toEqual([])
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    await vi.waitFor(
      () =>
        expect(heard).toContainEqual({
          type: 'revoked',
          handle: 'missed',
          reason: 'while you were away',
          at: 5,
        }),
      {
        timeout: 5_000,
      },
    )
    admin.disconnect()
  })

  it('keeps deployments with different prefixes apart on one Redis', async () => {
    const blue = open({ url: redis.url, prefix: newPrefix() })
    const green = open({ url: redis.url, prefix: newPrefix() })
    await blue.createAgent(testAgentRecord('same-handle', 1_000))
    await green.createAgent(testAgentRecord('same-handle', 5_000))
    await blue.revokeAgent('same-handle', 'blue only', 2)
    expect(await green.getAgent('same-handle', 3)).toMatchObject({
      status: 'active',
      capMicros: 5_000,
    })
    expect((await green.listAgents(3)).map((agent) => agent.capMicros)).toEqual([5_000])
  })

  it('uses a client it is given and leaves it open on close', async () => {
    const client = new Redis(redis.url)
    const store = redisStore({ client, prefix: newPrefix() })
    await store.createAgent(testAgentRecord('own-client', 1_000))
    await store.close()
    expect(await client.ping()).toBe('PONG')
    client.disconnect()
  })

  it('rejects invalid options with InvalidConfigError naming the field', () => {
    const field = (options: unknown) => {
      try {
        redisStore(options as Parameters<typeof redisStore>[0])
      } catch (error) {
        return InvalidConfigError.isInstance(error) ? (error as InvalidConfigError).field : 'other'
      }
      return 'none'
    }
    expect(field({})).toBe('url')
    expect(field({ url: 'http://localhost:6379' })).toBe('url')
    expect(field({ url: redis.url, prefix: '' })).toBe('prefix')
    expect(field({ url: redis.url, commandTimeoutMs: 0 })).toBe('commandTimeoutMs')
    // A WAIT for a replica must answer before its command's deadline.
    expect(field({ url: redis.url, replicaTimeoutMs: 1_000 })).toBe('replicaTimeoutMs')
    expect(field({ url: redis.url, replicaTimeoutMs: 0.5 })).toBe('replicaTimeoutMs')
    expect(resolveOptions({ url: redis.url }).replicaTimeoutMs).toBe(500)
    const slow = { url: redis.url, commandTimeoutMs: 3_000, replicaTimeoutMs: 1_000 }
    expect(resolveOptions(slow).replicaTimeoutMs).toBe(1_000)
  })

  it('with failOpen, warns, and lets only bookkeeping through an outage, never a reserve', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const store = open({ url: `redis://127.0.0.1:${await deadPort()}`, failOpen: true })
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/failOpen.*still fail closed/s)
    const event = { at: 1, kind: 'tool_call' as const, tool: 'search' }
    expect(await store.recordActivity('a', event, 10)).toEqual([event])
    expect(await store.markOnce('a', 'threshold:0.8')).toBe(false)
    store.appendAudit({ at: 1, handle: 'a', type: 'alert', summary: 'kept in memory', data: {} })
    await expect(store.flush()).resolves.toBeUndefined()
    await expect(reserveOne(store)).rejects.toSatisfy(StoreUnavailableError.isInstance)
    await expect(
      store.settle({ handle: 'a', holdId: 'h', costMicros: 1, now: 1 }),
    ).rejects.toSatisfy(StoreUnavailableError.isInstance)
    await expect(store.revokeAgent('a', 'x', 1)).rejects.toSatisfy(StoreUnavailableError.isInstance)
    await expect(store.getAgent('a', 1)).rejects.toSatisfy(StoreUnavailableError.isInstance)
  })

  it('without failOpen, bookkeeping fails closed too', async () => {
    const store = open({ url: `redis://127.0.0.1:${await deadPort()}` })
    await expect(store.markOnce('a', 'k')).rejects.toSatisfy(StoreUnavailableError.isInstance)
    await expect(store.recordActivity('a', { at: 1, kind: 'error' }, 5)).rejects.toSatisfy(
      StoreUnavailableError.isInstance,
    )
  })
})
