// A Redis at its maxmemory (noeviction, as the store requires) refuses every write: the
// agent's calls fail closed, and a revocation must still be written. A runaway agent's own
// activity is what fills it (red team rt41b: revoke refused for 20 s, the agent still active
// once memory was freed).
import { randomUUID } from 'node:crypto'
import {
  AgentRevokedError,
  createKillSwitch,
  type KillSwitch,
  StoreUnavailableError,
} from '@killswitch/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { versionProblem } from './redis-durability.js'
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

/** Runs `body` with Redis out of memory: every write without allow-oom is refused. */
async function outOfMemory<T>(body: () => Promise<T>): Promise<T> {
  await admin.config('SET', 'maxmemory', '1')
  try {
    return await body()
  } finally {
    await admin.config('SET', 'maxmemory', '0')
  }
}

const open = (): KillSwitch =>
  createKillSwitch({
    store: redisStore({ url: redis.url, prefix: `killswitch-test-${randomUUID()}:` }),
    prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
  })

describe('redisStore at its maxmemory', () => {
  it('writes a revocation while every other write is refused', async () => {
    const ks = open()
    const { credential } = await ks.agents.create({ handle: 'oom', spendingCap: 5 })
    const guard = ks.guard(credential)

    const revoked = await outOfMemory(async () => {
      // Calls fail closed: Redis refuses the reserve.
      const refused = await guard
        .beforeModelCall({ model: 'm', input: 'hi' })
        .catch((error: unknown) => error)
      expect(StoreUnavailableError.isInstance(refused)).toBe(true)
      expect(String((refused as Error).message)).toMatch(/OOM/)
      return ks.agents.revoke('oom', { reason: 'filling Redis' })
    })

    expect(revoked).toMatchObject({ status: 'revoked' })
    expect(guard.signal.aborted).toBe(true)
    await ks.close()
  })

  it('keeps the revocation after memory is freed, for every process', async () => {
    const prefix = `killswitch-test-${randomUUID()}:`
    const ks = createKillSwitch({ store: redisStore({ url: redis.url, prefix }) })
    const { credential } = await ks.agents.create({ handle: 'oom2', spendingCap: 5 })

    await outOfMemory(() => ks.agents.revoke('oom2'))
    await ks.close()

    const later = createKillSwitch({ store: redisStore({ url: redis.url, prefix }) })
    expect(await later.agents.get('oom2')).toMatchObject({ status: 'revoked' })
    const refused = await later
      .guard(credential)
      .check()
      .catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(AgentRevokedError)
    await later.close()
  })
})

describe('versionProblem', () => {
  it('refuses a Redis before 7.0, naming its version and the fix', () => {
    const problem = versionProblem(
      'redis://h:6379',
      'redis_version:6.2.14\r\nredis_mode:standalone',
    )
    expect(problem).toMatch(/version 6\.2\.14/)
    expect(problem).toMatch(/Redis 7\.0 or later/)
    expect(problem).toMatch(/Upgrade/)
  })

  it('takes Redis 7 and later', () => {
    expect(versionProblem('r', 'redis_version:7.0.15\r\n')).toBeUndefined()
    expect(versionProblem('r', 'redis_version:8.2.1\r\n')).toBeUndefined()
  })
})
