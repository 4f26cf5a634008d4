// Several real processes sharing one real Redis: no overspend, revocation reaches the other
// process's in-flight call, a SIGKILLed worker leaves a consistent ledger, and a Redis outage
// under load is refused (fail closed) and then resumed without double spending.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createKillSwitch, StoreUnavailableError } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { type ForkedWorker, forkWorker } from './test-support/fork-worker.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

const workerFile = fileURLToPath(new URL('./test-support/redis-worker.ts', import.meta.url))
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.dispose()
})

const workers: ForkedWorker[] = []
afterEach(() => {
  for (const worker of workers.splice(0))
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL')
})
const start = (prefix: string, mode: string, config: Record<string, unknown>) => {
  const worker = forkWorker(workerFile, [redis.url, prefix, mode, JSON.stringify(config)])
  workers.push(worker)
  return worker
}
const newPrefix = () => `killswitch-test-${randomUUID()}:`

/** Deterministic amounts (a small LCG), so a failure reproduces. */
function amounts(seed: number, count: number, min: number, max: number): number[] {
  let state = seed
  return Array.from({ length: count }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return min + (state % (max - min + 1))
  })
}

async function spendTogether(spenders: ForkedWorker[]) {
  await Promise.all(spenders.map((worker) => worker.next('ready')))
  for (const worker of spenders) worker.child.send({ type: 'go' })
  return Promise.all(spenders.map((worker) => worker.next('done')))
}

const sum = (reports: Record<string, unknown>[], field: string) =>
  reports.reduce((total, report) => total + (report[field] as number), 0)

describe('redisStore across processes', () => {
  it('never overspends one cap from four processes spending at once', {
    timeout: 60_000,
  }, async () => {
    const prefix = newPrefix()
    const cap = 2_000_000
    const store = redisStore({ url: redis.url, prefix })
    await store.createAgent(testAgentRecord('shared', cap))
    const reports = await spendTogether(
      [1, 2, 3, 4].map((seed) =>
        start(prefix, 'spend', { handle: 'shared', amounts: amounts(seed, 150, 5_000, 40_000) }),
      ),
    )
    const agent = await store.getAgent('shared', Date.now())
    expect(agent?.spentMicros).toBe(sum(reports, 'settledMicros'))
    expect(agent?.spentMicros).toBeLessThanOrEqual(cap)
    expect(agent?.heldMicros).toBe(0)
    // The cap was really reached: 600 attempts of $0.005-$0.04 against $2.
    expect(cap - (agent?.spentMicros ?? 0)).toBeLessThan(40_000)
    expect(sum(reports, 'refused')).toBeGreaterThan(0)
    await store.close()
  })

  it("a revocation in one process aborts another's in-flight guarded call and refuses the next", async () => {
    const prefix = newPrefix()
    const store = redisStore({ url: redis.url, prefix })
    const ks = createKillSwitch({ store })
    const agent = await ks.agents.create({ handle: 'inflight', spendingCap: 5 })
    const worker = start(prefix, 'guard', { handle: 'inflight', credential: agent.credential })
    await worker.next('inflight')
    await ks.agents.revoke('inflight', { reason: 'operator pulled the switch' })
    expect(await worker.next('aborted')).toMatchObject({ code: 'agent_revoked' })
    expect(await worker.next('next')).toMatchObject({ ok: false, code: 'agent_revoked' })
    await ks.close()
    await store.close()
  })

  it('after a SIGKILL mid-call and a Redis restart: holds lapse and are charged, a late settle corrects one, spend, audit and revocations survive', async () => {
    const prefix = newPrefix()
    const setup = redisStore({ url: redis.url, prefix })
    await setup.createAgent(testAgentRecord('crasher', 1_000_000))
    await setup.createAgent(testAgentRecord('victim', 1_000_000))
    await setup.close()
    // The caller's clock, so the test can step past the lease without waiting for it.
    const crasher = start(prefix, 'hold', {
      handle: 'crasher',
      holds: 3,
      settles: 2,
      ttlMs: 30_000,
      revoke: 'victim',
      clock: 'caller',
    })
    const expiresAt = (await crasher.next('holding')).expiresAt as number
    crasher.child.kill('SIGKILL')
    await crasher.exited
    // Everything restarts, Redis included (it persists to its append-only file).
    await redis.stop()
    await redis.start()

    const store = redisStore({ url: redis.url, prefix, clock: 'caller' })
    expect(await store.getAgent('crasher', expiresAt - 1)).toMatchObject({
      spentMicros: 1_400,
      heldMicros: 3_000,
      unreconciledMicros: 0,
    })
    // The owner vanished after its requests may have left: each lapsed hold is charged in
    // full, as unreconciled spend, never freed.
    const after = expiresAt + 1
    expect(await store.getAgent('crasher', after)).toMatchObject({
      spentMicros: 4_400,
      heldMicros: 0,
      unreconciledMicros: 3_000,
    })
    // The crashed call's settlement arrives after all (a retry from its outbox): the real
    // cost replaces the charge, once.
    const late = await store.settle({
      handle: 'crasher',
      holdId: 'held-0',
      costMicros: 600,
      now: after,
    })
    expect(late.outcome).toBe('corrected')
    expect(late.agent).toMatchObject({ spentMicros: 4_000, unreconciledMicros: 2_000 })
    const again = await store.settle({
      handle: 'crasher',
      holdId: 'held-0',
      costMicros: 600,
      now: after,
    })
    expect(again.outcome).toBe('duplicate')
    const reserve = await store.reserve({
      handle: 'crasher',
      holdId: 'fresh',
      amountMicros: 1_000_000 - 4_000,
      ttlMs: 1_000,
      now: after,
    })
    expect(reserve.ok).toBe(true)
    const audit = await store.readAudit('crasher')
    // Each lapse is audited once, when the next operation swept it; together they account
    // for the held $0.003.
    expect(audit.map((entry) => entry.type)).toEqual([
      'hold',
      'settled',
      'hold',
      'settled',
      'alert',
      'lapsed',
      'lapsed',
      'lapsed',
    ])
    const lapsed = audit.filter((entry) => entry.type === 'lapsed')
    expect(lapsed.map((entry) => entry.data.holdId)).toEqual(['held-0', 'held-1', 'held-2'])
    expect(
      lapsed.reduce((sum, entry) => sum + Math.round(Number(entry.data.unreconciled) * 1e6), 0),
    ).toBe(3_000)
    expect(await store.getAgent('victim', after)).toMatchObject({
      status: 'revoked',
      revokedReason: 'revoked before the crash',
    })
    const refused = await store.reserve({
      handle: 'victim',
      holdId: 'v',
      amountMicros: 1,
      ttlMs: 1_000,
      now: after,
    })
    expect(refused).toMatchObject({ ok: false, reason: 'revoked' })
    await store.close()
  })

  it('refuses calls while Redis is down, resumes when it is back, and double-spends nothing', {
    timeout: 60_000,
  }, async () => {
    const prefix = newPrefix()
    // About 100 calls per worker, 5 ms apart, until the cap: the outage lands mid-run.
    const cap = 5_000_000
    const store = redisStore({ url: redis.url, prefix })
    await store.createAgent(testAgentRecord('outage', cap))
    const spenders = [7, 8, 9].map((seed) =>
      start(prefix, 'spend', {
        handle: 'outage',
        amounts: amounts(seed, 120, 5_000, 30_000),
        pauseMs: 5,
      }),
    )
    await Promise.all(spenders.map((worker) => worker.next('ready')))
    for (const worker of spenders) worker.child.send({ type: 'go' })
    // Pull the plug once a tenth of the cap is spent.
    while (((await store.getAgent('outage', Date.now()))?.spentMicros ?? 0) < cap / 10) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await redis.stop()
    // While it is down, a call is refused with the typed error (fail closed), not queued.
    await expect(
      store.reserve({
        handle: 'outage',
        holdId: 'down',
        amountMicros: 1,
        ttlMs: 60_000,
        now: Date.now(),
      }),
    ).rejects.toSatisfy(StoreUnavailableError.isInstance)
    await new Promise((resolve) => setTimeout(resolve, 300))
    await redis.start()
    const reports = await Promise.all(spenders.map((worker) => worker.next('done')))

    // This store may still be reconnecting when the workers are done (it refuses meanwhile,
    // fail closed, as they did): read once it is back.
    let agent: Awaited<ReturnType<typeof store.getAgent>>
    for (let attempt = 0; ; attempt++) {
      try {
        agent = await store.getAgent('outage', Date.now())
        break
      } catch (error) {
        if (!StoreUnavailableError.isInstance(error) || attempt === 100) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    // Every settle the workers saw succeed is counted exactly once, retries included.
    expect(agent?.spentMicros).toBe(sum(reports, 'settledMicros'))
    expect(agent?.spentMicros).toBeLessThanOrEqual(cap)
    expect(sum(reports, 'unavailable')).toBeGreaterThan(0)
    await store.close()
  })
})
