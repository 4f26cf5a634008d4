// A revocation survives a failover: with replicas, it is reported written only once a replica
// acknowledged it (red team rt26: the primary acknowledged it, the replication link was cut,
// the replica was promoted, and the revoked credential settled $2). A real primary and a real
// replica; the link is cut as a partition would (the replica detached, or frozen).
import { randomUUID } from 'node:crypto'
import {
  AgentRevokedError,
  createKillSwitch,
  type KillSwitch,
  RevocationUnreplicatedError,
  type Store,
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
import { ReplicaWaits } from './redis-replicas.js'
import { redisStore } from './redis-store.js'
import { honestCalls } from './test-support/honest-calls.js'
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
  // Online is not yet streaming: after a diskless sync the primary sends the replica writes
  // only from its first REPLCONF ACK (up to a second later). Until a write is acknowledged.
  await onPrimary.set(`${prefix}attached`, '1')
  expect(Number(await onPrimary.call('WAIT', 1, 5_000))).toBe(1)
}

/** How many WAITs the primary has run. */
async function waits(): Promise<number> {
  const stats = await onPrimary.info('commandstats')
  return Number(/^cmdstat_wait:calls=(\d+)/m.exec(stats)?.[1] ?? 0)
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

  it('a frozen replica: the revocation is in force but reported unreplicated until it acknowledges', {
    timeout: 20_000,
  }, async () => {
    const { ks } = open(primary.url)
    const agent = await ks.agents.create({ handle: 'frozen', spendingCap: 5 })
    // Still connected as far as the primary knows, but it acknowledges nothing for 1.5 s.
    const freeze = onReplica.call('DEBUG', 'SLEEP', '1.5')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const error = await ks.agents.revoke('frozen', { reason: 'loop' }).catch((e: unknown) => e)
    // In force (the primary has it, every process reads it there), but on no replica yet.
    expect(error).toBeInstanceOf(RevocationUnreplicatedError)
    expect(error).toMatchObject({ code: 'revocation_unreplicated', alreadyRevoked: false })
    expect(String((error as Error).message)).toContain(
      'is in force now: this and every other process refuse its credential',
    )
    expect(String((error as Error).cause)).toContain('no replica acknowledged it within 300 ms')
    expect(await status(onPrimary, 'frozen')).toBe('revoked')
    expect(await open(primary.url).ks.verify(agent.credential)).toEqual({ active: false })
    await freeze
    // Retried by the kill switch until the replica has it: close() fails if it never was.
    await vi.waitFor(async () => expect(await status(onReplica, 'frozen')).toBe('revoked'), {
      timeout: 10_000,
      interval: 20,
    })
    await expect(ks.close()).resolves.toBeUndefined()
  })

  it('revocations waiting for a replica hold up no other call of the process, and share one WAIT at a time', {
    timeout: 20_000,
  }, async () => {
    const { ks } = open(primary.url)
    const honest = await ks.agents.create({ handle: 'honest', spendingCap: 100 })
    for (const handle of ['w1', 'w2', 'w3']) await ks.agents.create({ handle, spendingCap: 5 })
    const guard = ks.guard(honest.credential)
    const waitsBefore = await waits()
    // The replica acknowledges nothing for 3 s (still connected, as far as the primary knows).
    const freeze = onReplica.call('DEBUG', 'SLEEP', '3')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const frozenAt = performance.now()
    const revokes = ['w1', 'w2', 'w3'].map((handle) =>
      ks.agents.revoke(handle, { reason: 'incident' }).catch((e: unknown) => e),
    )
    // Another agent's honest calls meanwhile: reserve and settle, 1 micro-dollar each.
    const { calls, slow } = await honestCalls(guard, 2_500)
    // Hundreds of calls, none behind a WAIT (a couple slow at most, for a loaded machine).
    expect(calls).toBeGreaterThan(300)
    expect(slow).toBeLessThanOrEqual(2)
    expect(await ks.agents.get('honest')).toMatchObject({ spent: calls / 1_000_000, held: 0 })
    for (const error of await Promise.all(revokes)) {
      expect(error).toBeInstanceOf(RevocationUnreplicatedError)
    }
    // Retried every 100 ms each, they waited on one WAIT at a time: about one per 300 ms.
    const waited = (await waits()) - waitsBefore
    expect(waited).toBeGreaterThan(0)
    expect(waited).toBeLessThanOrEqual(Math.ceil((performance.now() - frozenAt) / 300) + 1)
    await freeze
    await expect(ks.close()).resolves.toBeUndefined()
    for (const handle of ['w1', 'w2', 'w3']) expect(await status(onReplica, handle)).toBe('revoked')
  })

  it('ReplicaWaits: one WAIT at a time per primary; every call made while one is out shares the next', async () => {
    const replicaWaits = new ReplicaWaits({
      connect: () => new Redis(primary.url),
      timeoutMs: 300,
      connectTimeoutMs: 2_000,
      call: (command) => command(),
    })
    const freeze = onReplica.call('DEBUG', 'SLEEP', '1')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const before = await waits()
    const mark = `${prefix}mark`
    const first = replicaWaits.acknowledged('primary', mark)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const rest = Array.from({ length: 9 }, () => replicaWaits.acknowledged('primary', mark))
    expect(await Promise.all([first, ...rest])).toEqual(Array(10).fill(false))
    // Ten callers, two WAITs: the first one's, and the next, shared by the nine.
    expect((await waits()) - before).toBe(2)
    replicaWaits.close()
    await freeze
    // With the replica back, a new one answers for writes made before it.
    const after = new ReplicaWaits({
      connect: () => new Redis(primary.url),
      timeoutMs: 300,
      connectTimeoutMs: 2_000,
      call: (command) => command(),
    })
    await expect(after.acknowledged('primary', mark)).resolves.toBe(true)
    after.close()
  })

  // Last: it promotes the replica and stops the primary.
  it('a cut link: unreplicated (no WAIT) until the replica is back; after a failover the credential is refused', {
    timeout: 30_000,
  }, async () => {
    const { ks } = open(primary.url)
    const agent = await ks.agents.create({ handle: 'fo', spendingCap: 5 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' })
    await guard.settleSpend(ticket, { amountUsd: 1 })

    // The partition: the replica leaves (the primary counts 0 connected replicas now).
    await onReplica.replicaof('NO', 'ONE')
    const waitsBefore = await waits()
    const error = await ks.agents.revoke('fo', { reason: 'runaway' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RevocationUnreplicatedError)
    expect(String((error as Error).message)).toContain('is in force now')
    expect(String((error as Error).cause)).toContain(
      'on its primary only (no replica is connected)',
    )
    // With no replica connected a WAIT could only time out: none is sent.
    expect(await waits()).toBe(waitsBefore)
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
