// Round trips of reserve + settle, counted on the servers (INFO commandstats; the store never
// pipelines a ledger call, so one command is one round trip). On one Redis a reservation over
// three levels (cap, agent window, shared budget) costs what one over the cap alone costs: one
// script each. On a cluster the budget sits on another slot: one more trip per budget slot for
// the reserve (its hold, then the confirm on the agent's slot) and for the settle (the budget's
// share, then the outbox cleared).
import { randomUUID } from 'node:crypto'
import type { Store } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let redis: RedisServer
let cluster: RedisCluster
beforeAll(async () => {
  ;[redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster()])
}, 30_000)
afterAll(async () => {
  await Promise.all([redis?.dispose(), cluster?.dispose()])
})

const NOW = Date.UTC(2026, 0, 5, 12)

/**
 * Commands clients sent to the servers during `work`, seen by MONITOR (the commands a script
 * runs are shown as `lua` and not counted). An ECHO marker sent after the work closes each
 * server's stream: MONITOR reports a server's commands in order.
 */
async function commandsDuring(ports: number[], work: () => Promise<void>): Promise<number> {
  const marker = `end-${randomUUID()}`
  const admins = ports.map((port) => new Redis({ port, host: '127.0.0.1' }))
  // Connected before MONITOR starts, so their handshakes are not counted.
  const senders = ports.map((port) => new Redis({ port, host: '127.0.0.1' }))
  await Promise.all(senders.map((sender) => sender.ping()))
  const monitors = await Promise.all(admins.map((admin) => admin.monitor()))
  let count = 0
  const closed = monitors.map(
    (monitor) =>
      new Promise<void>((resolve) => {
        monitor.on('monitor', (_time: string, args: string[], source: string) => {
          if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) resolve()
          // Scripts' own commands show as 'lua'; the cluster client's background slot
          // refreshes (CLUSTER SLOTS) are no call's round trip.
          else if (source !== 'lua' && args[0]?.toLowerCase() !== 'cluster') count++
        })
      }),
  )
  try {
    await work()
    await Promise.all(senders.map((sender) => sender.echo(marker)))
    await Promise.all(closed)
    return count
  } finally {
    for (const monitor of monitors) monitor.disconnect()
    for (const admin of admins) admin.disconnect()
    for (const sender of senders) sender.disconnect()
  }
}

/** One agent on its cap alone, one on its cap, a day window and a shared day budget. */
async function agents(store: Store) {
  await store.createBudget({
    id: 'team',
    limits: [{ amountMicros: 50_000_000, per: 'day' }],
    createdAt: NOW,
    updatedAt: NOW,
  })
  await store.createAgent(testAgentRecord('one-level', 50_000_000, NOW))
  await store.createAgent(testAgentRecord('three-levels', 50_000_000, NOW))
  await store.updateAgent(
    'three-levels',
    { limits: [{ amountMicros: 40_000_000, per: 'day' }], budgets: ['team'] },
    NOW,
  )
}

let n = 0
async function reserveAndSettle(store: Store, handle: string): Promise<void> {
  const holdId = `h${n++}`
  const reserved = await store.reserve({
    handle,
    holdId,
    amountMicros: 1_000,
    ttlMs: 60_000,
    now: NOW,
  })
  expect(reserved.ok && reserved.levels.length).toBe(handle === 'one-level' ? 0 : 2)
  const settled = await store.settle({ handle, holdId, costMicros: 700, now: NOW })
  expect(settled.outcome).toBe('settled')
}

describe('round trips of reserve + settle', () => {
  it('on one Redis: three levels cost the same two round trips as one', async () => {
    const store = redisStore({ url: redis.url, prefix: `rt-${randomUUID()}:`, clock: 'caller' })
    await agents(store)
    // Warm: scripts loaded, durability checked once per connection.
    await reserveAndSettle(store, 'one-level')
    await reserveAndSettle(store, 'three-levels')
    const one = await commandsDuring([redis.port], () => reserveAndSettle(store, 'one-level'))
    const three = await commandsDuring([redis.port], () => reserveAndSettle(store, 'three-levels'))
    expect(one).toBe(2)
    expect(three).toBe(one)
    await store.close()
  })

  it('on a cluster: two for one slot; six when a budget sits on a second slot', async () => {
    const store = redisStore({
      cluster: { nodes: cluster.nodes },
      prefix: `rt-${randomUUID()}:`,
      clock: 'caller',
    })
    await agents(store)
    await reserveAndSettle(store, 'one-level')
    await reserveAndSettle(store, 'three-levels')
    const ports = cluster.nodes.map((node) => node.port)
    const one = await commandsDuring(ports, () => reserveAndSettle(store, 'one-level'))
    const three = await commandsDuring(ports, () => reserveAndSettle(store, 'three-levels'))
    expect(one).toBe(2)
    // Reserve: agent slot, budget slot, confirm on the agent slot. Settle: agent slot, the
    // budget's share on its slot, outbox cleared on the agent slot.
    expect(three).toBe(6)
    await store.close()
  })
})
