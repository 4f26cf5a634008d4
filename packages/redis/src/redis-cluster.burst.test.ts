// A Redis Cluster under a burst: 1,000 concurrent calls from 4 processes, spread over 5 agents
// that share a $1-a-day budget. Each agent's keys and the budget's sit on their own slots, so
// every call is held slot by slot; the budget must still never be overspent.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { testAgentRecord } from '@killswitch/core/conformance'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { type ForkedWorker, forkWorker } from './test-support/fork-worker.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'

const workerFile = fileURLToPath(new URL('./test-support/cluster-worker.ts', import.meta.url))
let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster()
}, 30_000)
afterAll(async () => {
  await cluster?.dispose()
})
const workers: ForkedWorker[] = []
afterEach(() => {
  for (const worker of workers.splice(0))
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL')
})

const DAY = 86_400_000
const LIMIT = 1_000_000
const handles = ['w0', 'w1', 'w2', 'w3', 'w4']

/** Deterministic amounts (a small LCG), so a failure reproduces. */
function amounts(seed: number, count: number, min: number, max: number): number[] {
  let state = seed
  return Array.from({ length: count }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return min + (state % (max - min + 1))
  })
}

describe('redisStore on a Redis Cluster under a burst', () => {
  it('spends at most $1.00 of a shared day budget from 1,000 concurrent calls in 4 processes, every refusal naming the budget, and spends again the next day', {
    timeout: 120_000,
  }, async () => {
    const prefix = `killswitch-test-${randomUUID()}:`
    const store = redisStore({ cluster: { nodes: cluster.nodes }, prefix, clock: 'caller' })
    const day1 = Date.UTC(2026, 0, 5, 12)
    await store.createBudget({
      id: 'team',
      limits: [{ amountMicros: LIMIT, per: 'day' }],
      createdAt: day1,
      updatedAt: day1,
    })
    for (const handle of handles) {
      await store.createAgent(testAgentRecord(handle, 100_000_000, day1))
      await store.updateAgent(handle, { budgets: ['team'] }, day1)
    }
    const spawned = [1, 2, 3, 4].map((seed) => {
      const calls = amounts(seed, 250, 2_000, 12_000).map((amount, i) => ({
        handle: handles[(seed + i) % handles.length] as string,
        amount,
      }))
      const worker = forkWorker(workerFile, [
        JSON.stringify(cluster.nodes),
        prefix,
        JSON.stringify({ calls, now: day1 }),
      ])
      workers.push(worker)
      return worker
    })
    await Promise.all(spawned.map((worker) => worker.next('ready')))
    for (const worker of spawned) worker.child.send({ type: 'go' })
    const reports = await Promise.all(spawned.map((worker) => worker.next('done')))

    const settled = reports.reduce((sum, report) => sum + (report.settledMicros as number), 0)
    const refusals = reports.flatMap((report) => report.refusals as string[])
    const dayKey = `budget:team/day@${day1 - (day1 % DAY)}`
    const [usage] = await store.readUsage([dayKey])
    expect(usage).toEqual({ spentMicros: settled, heldMicros: 0 })
    expect(settled).toBeLessThanOrEqual(LIMIT)
    // The budget was really reached (a refusal only ever comes from a lack of room), and
    // every one of the refusals named it.
    expect(LIMIT - settled).toBeLessThan(12_000)
    expect(refusals.length).toBeGreaterThan(0)
    expect(new Set(refusals)).toEqual(new Set(['budget:team:day']))
    // Each agent's own figures add up to the budget's.
    let agentsSpent = 0
    for (const handle of handles) {
      const agent = await store.getAgent(handle, day1)
      expect(agent?.heldMicros).toBe(0)
      agentsSpent += agent?.spentMicros ?? 0
    }
    expect(agentsSpent).toBe(settled)

    // The next day the window has rolled over by arithmetic alone: no job ran.
    const day2 = day1 + DAY
    const next = await store.reserve({
      handle: 'w3',
      holdId: 'next-day',
      amountMicros: 500_000,
      ttlMs: 60_000,
      now: day2,
    })
    expect(next.ok).toBe(true)
    await store.settle({ handle: 'w3', holdId: 'next-day', costMicros: 500_000, now: day2 })
    const [today] = await store.readUsage([`budget:team/day@${day2 - (day2 % DAY)}`])
    expect(today).toEqual({ spentMicros: 500_000, heldMicros: 0 })
    await store.close()
  })
})
