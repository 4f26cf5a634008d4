// A revocation survives a failover: with replicas, it is reported written only once a replica
// acknowledged it (red team rt26: the primary acknowledged it, the replication link was cut,
// the replica was promoted, and the revoked credential settled $2). A real primary and a real
// replica; the link is cut as a partition would (the replica detached, or frozen).
import { randomUUID } from 'node:crypto'
import {
  AgentRevokedError,
  createKillSwitch,
  type KillSwitch,
  type Store,
  StoreUnavailableError,
} from '@killswitch/core'
import { Redis } from 'ioredis'
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let primary: RedisServer
let replica: RedisServer
let onPrimary: Redis
let onReplica: Redis
beforeAll(async () => {
  primary = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] })
  replica = await startRedisServer({ args: ['--enable-debug-command', 'yes'] })
  onPrimary = new Redis(primary.url)
  onReplica = new Redis(replica.url)
  await attach()
})
afterAll(async () => {
  onPrimary?.disconnect()
  onReplica?.disconnect()
  await Promise.all([primary?.dispose(), replica?.dispose()])
})

const opened: { ks: KillSwitch; store: Store }[] = []
let warn: MockInstance<typeof process.emitWarning>
beforeEach(() => {
  warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
})
afterEach(async () => {
  vi.restoreAllMocks()
  for (const { ks, store } of opened.splice(0)) {
    await ks.close().catch(() => undefined)
    await store.close()
  }
})

const prefix = `killswitch-test-${randomUUID()}:`
const open = (url: string) => {
  const store = redisStore({ url, prefix, replicaTimeoutMs: 300 })
  const ks = createKillSwitch({ store })
  opened.push({ ks, store })
  return { ks, store }
}

/** The replica follows the primary again, and has caught up (a full resync if it must). */
async function attach(): Promise<void> {
  await onReplica.replicaof('127.0.0.1', primary.port)
  await vi.waitFor(
    async () => {
      expect(await onReplica.info('replication')).toContain('master_link_status:up')
      expect(await onPrimary.info('replication')).toMatch(/slave0:.*state=online/)
    },
    { timeout: 10_000, interval: 20 },
  )
}

const status = (redis: Redis, handle: string) => redis.hget(`${prefix}agent:${handle}`, 'status')
const auditTypes = async (redis: Redis, handle: string) =>
  (await redis.lrange(`${prefix}audit:${handle}`, 0, -1)).map((line) => JSON.parse(line).type)

describe('redisStore with a replica', () => {
  it('a revocation resolves once the replica has it, entry and all; warns once of min-replicas-to-write', async () => {
    const { ks } = open(primary.url)
    await ks.agents.create({ handle: 'happy', spendingCap: 5 })
    await ks.agents.create({ handle: 'happy-2', spendingCap: 5 })
    await ks.agents.revoke('happy', { reason: 'done' })
    // Read at once: the answer "written" waited for the replica.
    expect(await status(onReplica, 'happy')).toBe('revoked')
    expect(await auditTypes(onReplica, 'happy')).toContain('revoked')
    const warned = warn.mock.calls.filter(([, options]) => {
      return (options as { code?: string } | undefined)?.code === 'KILLSWITCH_REDIS_REPLICAS'
    })
    expect(warned).toHaveLength(1)
    expect(String(warned[0]?.[0])).toContain('min-replicas-to-write 1')

    // A primary that refuses writes without a replica needs no warning.
    await onPrimary.config('SET', 'min-replicas-to-write', '1')
    try {
      warn.mockClear()
      await open(primary.url).ks.agents.create({ handle: 'guarded', spendingCap: 5 })
      expect(warn).not.toHaveBeenCalled()
    } finally {
      await onPrimary.config('SET', 'min-replicas-to-write', '0')
    }
  })

  it('a frozen replica: the revocation is not reported written until it acknowledges', {
    timeout: 20_000,
  }, async () => {
    const { ks } = open(primary.url)
    const agent = await ks.agents.create({ handle: 'frozen', spendingCap: 5 })
    // Still connected as far as the primary knows, but it acknowledges nothing for 1.5 s.
    const freeze = onReplica.call('DEBUG', 'SLEEP', '1.5')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const error = await ks.agents.revoke('frozen', { reason: 'loop' }).catch((e: unknown) => e)
    expect(StoreUnavailableError.isInstance(error)).toBe(true)
    expect(String((error as Error).message)).toContain('is not written yet')
    expect(String((error as Error).cause)).toContain('no replica acknowledged it within 300 ms')
    expect(await ks.verify(agent.credential)).toEqual({ active: false })
    await freeze
    // Retried by the kill switch until the replica has it: close() fails if it never was.
    await vi.waitFor(async () => expect(await status(onReplica, 'frozen')).toBe('revoked'), {
      timeout: 10_000,
      interval: 20,
    })
    await expect(ks.close()).resolves.toBeUndefined()
  })

  // Last: it promotes the replica and stops the primary.
  it('a cut link: not written until the replica is back; after a failover the credential is refused', {
    timeout: 30_000,
  }, async () => {
    const { ks } = open(primary.url)
    const agent = await ks.agents.create({ handle: 'fo', spendingCap: 5 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' })
    await guard.settleSpend(ticket, { amountUsd: 1 })

    // The partition: the replica leaves (the primary counts 0 connected replicas now).
    await onReplica.replicaof('NO', 'ONE')
    const error = await ks.agents.revoke('fo', { reason: 'runaway' }).catch((e: unknown) => e)
    expect(StoreUnavailableError.isInstance(error)).toBe(true)
    expect(String((error as Error).message)).toContain('is not written yet')
    // On the primary only: exactly what a failover would lose.
    expect(await status(onPrimary, 'fo')).toBe('revoked')
    expect(await status(onReplica, 'fo')).toBe('active')

    await attach()
    await expect(ks.close()).resolves.toBeUndefined()

    // The failover: the primary dies, the replica is promoted, a process starts on it.
    await primary.stop()
    await onReplica.replicaof('NO', 'ONE')
    const after = open(replica.url).ks
    expect(await after.verify(agent.credential)).toEqual({ active: false })
    await expect(
      after
        .guard(agent.credential)
        .reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' }),
    ).rejects.toSatisfy(AgentRevokedError.isInstance)
    expect(await after.agents.get('fo')).toMatchObject({ status: 'revoked', spent: 1 })
    expect((await after.audit('fo')).map((entry) => entry.type)).toContain('revoked')
  })
})
