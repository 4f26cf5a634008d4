// Round trips of reserve + settle, counted on the servers (INFO commandstats; the store never
// pipelines a ledger call, so one command is one round trip). On one Redis a reservation over
// three levels (cap, agent window, shared budget) costs what one over the cap alone costs: one
// script each. On a cluster the budget sits on another slot: one more trip per budget slot for
// the reserve (its hold, then the confirm on the agent's slot) and for the settle (the budget's
// share, then the outbox cleared).
import { randomUUID } from 'node:crypto'
import { createKillSwitch, type Store } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { useRedisServers } from './test-support/redis-servers.js'

const servers = useRedisServers()

const NOW = Date.UTC(2026, 0, 5, 12)

/**
 * Commands clients sent to the servers during `work`, seen by MONITOR (the commands a script
 * runs are shown as `lua` and not counted). An ECHO marker sent after the work closes each
 * server's stream: MONITOR reports a server's commands in order.
 */
async function commandsDuring(ports: number[], work: () => Promise<void>): Promise<number> {
  return (await commandNamesDuring(ports, work)).length
}

/** The commands themselves (names, lower case), in the order each server saw them. */
async function commandNamesDuring(ports: number[], work: () => Promise<void>): Promise<string[]> {
  const marker = `end-${randomUUID()}`
  const admins = ports.map((port) => new Redis({ port, host: '127.0.0.1' }))
  // Connected before MONITOR starts, so their handshakes are not counted.
  const senders = ports.map((port) => new Redis({ port, host: '127.0.0.1' }))
  await Promise.all(senders.map((sender) => sender.ping()))
  const monitors = await Promise.all(admins.map((admin) => admin.monitor()))
  const names: string[] = []
  const closed = monitors.map(
    (monitor) =>
      new Promise<void>((resolve) => {
        let done = false
        monitor.on('monitor', (_time: string, args: string[], source: string) => {
          if (done) return
          if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) {
            // Nothing after it is counted: the next call's commands may follow at once.
            done = true
            resolve()
          }
          // Scripts' own commands show as 'lua'; the cluster client's background slot
          // refreshes (CLUSTER SLOTS) are no call's round trip.
          else if (source !== 'lua' && args[0]?.toLowerCase() !== 'cluster') {
            names.push(String(args[0]).toLowerCase())
          }
        })
      }),
  )
  try {
    await work()
    await Promise.all(senders.map((sender) => sender.echo(marker)))
    await Promise.all(closed)
    return names
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
    const store = redisStore({
      url: servers.redis.url,
      prefix: `rt-${randomUUID()}:`,
      clock: 'caller',
    })
    await agents(store)
    // Warm: scripts loaded, durability checked once per connection.
    await reserveAndSettle(store, 'one-level')
    await reserveAndSettle(store, 'three-levels')
    const one = await commandsDuring([servers.redis.port], () =>
      reserveAndSettle(store, 'one-level'),
    )
    const three = await commandsDuring([servers.redis.port], () =>
      reserveAndSettle(store, 'three-levels'),
    )
    expect(one).toBe(2)
    expect(three).toBe(one)
    await store.close()
  })

  it('on a cluster: two for one slot; six when a budget sits on a second slot', async () => {
    const store = redisStore({
      cluster: { nodes: servers.cluster.nodes },
      prefix: `rt-${randomUUID()}:`,
      clock: 'caller',
    })
    await agents(store)
    await reserveAndSettle(store, 'one-level')
    await reserveAndSettle(store, 'three-levels')
    const ports = servers.cluster.nodes.map((node) => node.port)
    const one = await commandsDuring(ports, () => reserveAndSettle(store, 'one-level'))
    const three = await commandsDuring(ports, () => reserveAndSettle(store, 'three-levels'))
    expect(one).toBe(2)
    // Reserve: agent slot, budget slot, confirm on the agent slot. Settle: agent slot, the
    // budget's share on its slot, outbox cleared on the agent slot.
    expect(three).toBe(6)
    await store.close()
  })
})

/**
 * A guarded model call, a paid tool call and a free tool call through the kill switch, with
 * the default runaway detectors on (the activity window is written): the round trips each
 * costs, as packages/core/src/round-trips.test.ts counts them on memory and sqlite.
 */
async function guardedCalls(store: Store, ports: number[]) {
  const ks = createKillSwitch({ store, prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
  const { credential } = await ks.agents.create({ handle: 'trips', spendingCap: 100 })
  const guard = ks.guard(credential)
  await guard.check()
  const model = (i: number) => async () => {
    await guard.afterModelCall(
      await guard.beforeModelCall({ model: 'm', input: `question ${i}`, maxOutputTokens: 50 }),
      { usage: { inputTokens: 5, outputTokens: 5 }, text: `answer ${i}` },
    )
  }
  const paid = (i: number) => async () => {
    const call = await guard.beforeToolCall({
      name: `paid-${i}`,
      args: { [`k${i}`]: i },
      priceUsd: 0.01,
    })
    await guard.afterToolCall(call, { ok: true })
  }
  const free = (i: number) => async () => {
    const call = await guard.beforeToolCall({ name: `free-${i}`, args: { [`f${i}`]: i } })
    await guard.afterToolCall(call, { ok: i !== 1 })
  }
  // Warm: scripts loaded, durability checked once per connection.
  await model(-1)()
  await paid(-1)()
  await free(-1)()
  const trips: { model: string[]; paid: string[]; free: string[] }[] = []
  for (let i = 0; i < 3; i++) {
    trips.push({
      model: await commandNamesDuring(ports, model(i)),
      paid: await commandNamesDuring(ports, paid(i)),
      free: await commandNamesDuring(ports, free(i)),
    })
  }
  // Each result went with the next call's round trip; only the very last is still pending.
  const window = await store.recordActivity('trips', [], 256)
  await ks.close()
  return { trips, kinds: window.map((event) => event.kind) }
}

const PER_ROUND = [
  'model_call',
  'model_result',
  'tool_call',
  'spend',
  'tool_result',
  'tool_call',
  'tool_result',
]

describe('round trips per guarded call, runaway detection on', () => {
  it.each([
    ['one Redis', () => ({ url: servers.redis.url }), () => [servers.redis.port]],
    [
      'a cluster',
      () => ({ cluster: { nodes: servers.cluster.nodes } }),
      () => servers.cluster.nodes.map((node) => node.port),
    ],
  ])(
    'on %s: a model call 2 (reserve, settle), a paid tool 2, a free tool 1',
    async (_name, connection, ports) => {
      const store = redisStore({ ...connection(), prefix: `rt-${randomUUID()}:` })
      const { trips, kinds } = await guardedCalls(store, ports())
      for (const round of trips) {
        expect(round).toEqual({
          model: ['evalsha', 'evalsha'],
          paid: ['evalsha', 'evalsha'],
          free: ['evalsha'],
        })
      }
      // The activity the reserves carried was written (in the agent's slot on a cluster): the
      // whole story, in order.
      expect(kinds.slice(-20)).toEqual([0, 1, 2].flatMap(() => PER_ROUND).slice(0, -1))
    },
  )
})
