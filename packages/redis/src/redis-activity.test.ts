// The activity window on Redis, written by the reserve that grants a call or by the activity
// script, read back as a delta against each process's copy (redis-activity-mirror.ts): every
// window any process sees must be the window the memory store gives for the same calls.
import { randomUUID } from 'node:crypto'
import { type ActivityEvent, memoryStore, type Store } from '@killswitch/core'
import { reservedWindow, testAgentRecord } from '@killswitch/core/conformance'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { ActivityMirror } from './redis-activity-mirror.js'
import { redisKeys } from './redis-keys.js'
import { SCRIPTS } from './redis-scripts.js'
import { redisStore } from './redis-store.js'
import { useRedisServers } from './test-support/redis-servers.js'

const servers = useRedisServers()

const NOW = Date.UTC(2026, 0, 5, 12)

interface Step {
  /** Which of the two processes (store instances sharing one Redis) makes the call. */
  process: 0 | 1
  /** A granted reserve, a refused one (past the cap: no activity), or activity alone. */
  kind: 'reserve' | 'refused' | 'record'
  events: number
}

const step = fc.record<Step>({
  process: fc.constantFrom(0, 1),
  kind: fc.constantFrom('reserve', 'refused', 'record'),
  events: fc.integer({ min: 0, max: 4 }),
})

let seq = 0
const eventsOf = (count: number): ActivityEvent[] =>
  Array.from({ length: count }, () => ({
    at: NOW + seq,
    kind: 'tool_call',
    tool: `t${seq}`,
    hash: `h${seq++}`,
    micros: 123_456_789_012,
  }))

/** Runs the steps on `stores` (the processes) and returns every window each call saw. */
async function windows(stores: Store[], handle: string, steps: Step[], keep: number) {
  const seen: (ActivityEvent[] | undefined)[] = []
  let hold = 0
  for (const { process, kind, events } of steps) {
    const store = stores[process % stores.length] as Store
    const batch = eventsOf(events)
    if (kind === 'record') {
      seen.push(await store.recordActivity(handle, batch, keep))
      continue
    }
    const result = await store.reserve({
      handle,
      holdId: `h${hold++}`,
      amountMicros: kind === 'refused' ? 2_000_000_000 : 1,
      ttlMs: 60_000,
      now: NOW,
      activity: { events: batch, keep },
    })
    expect(result.ok).toBe(kind !== 'refused')
    seen.push(reservedWindow(result))
  }
  seen.push(await (stores[0] as Store).recordActivity(handle, [], keep))
  return seen
}

describe.each([
  ['one Redis', () => ({ url: servers.redis.url })],
  ['a cluster', () => ({ cluster: { nodes: servers.cluster.nodes } })],
])('activity windows on %s', (_name, connection) => {
  it("are the memory store's, whichever process calls, with copies read as deltas", async () => {
    const prefix = `act-${randomUUID()}:`
    const processes = [
      redisStore({ ...connection(), prefix, clock: 'caller' }),
      redisStore({ ...connection(), prefix, clock: 'caller' }),
    ]
    let run = 0
    await fc.assert(
      // One window size a run (a detector's), as the guard keeps it.
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 30 }),
        fc.constantFrom(3, 5, 8),
        async (steps, keep) => {
          const handle = `a${run++}`
          const reference = memoryStore()
          await reference.createAgent(testAgentRecord(handle, 1_000_000_000, NOW))
          await (processes[0] as Store).createAgent(testAgentRecord(handle, 1_000_000_000, NOW))
          const start = seq
          const expected = await windows([reference], handle, steps, keep)
          seq = start
          expect(await windows(processes, handle, steps, keep)).toEqual(expected)
        },
      ),
      { numRuns: 40 },
    )
    await Promise.all(processes.map((store) => store.close()))
  })
})

/** A raw client with the activity script, sending its ARGV for `handle` under `prefix`. */
function activityScript(url: string, prefix: string, handle: string) {
  const raw = new Redis(url)
  raw.defineCommand('activity', SCRIPTS.killswitchActivityV2)
  const keys = redisKeys(prefix)
  const send = (args: (string | number)[]) =>
    (
      raw as unknown as {
        activity(...args: unknown[]): Promise<[number, number, number, string[]]>
      }
    ).activity(keys.ledger(handle)[0], keys.activity(handle), keys.activityState(handle), ...args)
  return { raw, send, list: keys.activity(handle), state: keys.activityState(handle) }
}

describe('activity window replies', () => {
  it('carry only the events a process lacks: not its own, not those an earlier reply gave it', async () => {
    const prefix = `act-${randomUUID()}:`
    const store = redisStore({ url: servers.redis.url, prefix, clock: 'caller' })
    await store.createAgent(testAgentRecord('wire', 1_000_000_000, NOW))
    const window = await store.recordActivity('wire', eventsOf(300), 256)
    expect(window).toHaveLength(256)
    await store.close()
    const { raw, send, list, state } = activityScript(servers.redis.url, prefix, 'wire')
    const [a, b, c] = eventsOf(3).map((event) => JSON.stringify(event))
    // Reader r1, its copy at seq 300: its own event is not sent back; nothing else is new.
    expect(await send([256, 300, 256, 'r1', 1, a as string])).toEqual([301, 300, 256, []])
    // Reader r2 at seq 300 lacks r1's event.
    expect(await send([256, 300, 256, 'r2', 1, b as string])).toEqual([302, 300, 256, [a]])
    // r1 again, sent before its first reply was read (its copy still at 300): that reply,
    // read first, holds up to 301, so only r2's event comes.
    expect(await send([256, 300, 256, 'r1', 1, c as string])).toEqual([303, 301, 256, [b]])
    // No copy: the whole window.
    const [seq, from, size, lines] = await send([256, -1, 0, '', 0])
    expect([seq, from, size, lines.length]).toEqual([303, -1, 256, 256])
    // The list runs to twice the window before one LTRIM takes it back to the window.
    expect(await raw.llen(list)).toBe(303)
    await send([256, 303, 256, 'r1', 209, ...eventsOf(209).map((event) => JSON.stringify(event))])
    expect(await raw.llen(list)).toBe(512)
    await send([256, 512, 256, 'r1', 1, ...eventsOf(1).map((event) => JSON.stringify(event))])
    expect(await raw.llen(list)).toBe(256)
    // The read positions of the last processes only: past 16 readers, they are forgotten
    // (a forgotten reader is sent what its copy lacks), the count of events kept.
    for (let i = 0; i < 20; i++) await send([256, 513, 256, `other${i}`, 0])
    expect(await raw.hlen(state)).toBeLessThanOrEqual(17)
    expect(await raw.hget(state, 'seq')).toBe('513')
    expect(await send([256, 510, 256, 'r1', 0])).toEqual([513, 510, 256, expect.any(Array)])
    raw.disconnect()
  })

  it('that find an earlier reply lost are completed by one whole read', async () => {
    const prefix = `act-${randomUUID()}:`
    const store = redisStore({ url: servers.redis.url, prefix, clock: 'caller' })
    await store.createAgent(testAgentRecord('lost', 1_000_000_000, NOW))
    await store.close()
    const reference = memoryStore()
    await reference.createAgent(testAgentRecord('lost', 1_000_000_000, NOW))
    const { raw, send } = activityScript(servers.redis.url, prefix, 'lost')
    const mine = new ActivityMirror()
    const other = new ActivityMirror()
    const keep = 5
    const step = async (mirror: ActivityMirror, count: number, lost = false) => {
      const events = eventsOf(count)
      const expected = await reference.recordActivity('lost', events, keep)
      const sent = mirror.send('lost', { events, keep })
      const reply = await send(sent.args)
      if (!lost) mirror.apply(sent, reply)
      return { sent, expected }
    }
    await step(mine, 3)
    await step(other, 2)
    // This reply never reaches the process (its connection dropped after Redis ran it).
    await step(mine, 2, true)
    await step(other, 1)
    const { sent, expected } = await step(mine, 1)
    expect(sent.window).toBeUndefined()
    expect(sent.hole).toBeGreaterThan(0)
    const whole = await send(mine.wholeArgs(keep))
    expect(mine.recover(sent, whole)).toEqual(expected)
    // The copy is whole again: the next reply is a delta that completes it.
    const next = await step(mine, 2)
    expect(next.sent.window).toEqual(next.expected)
    raw.disconnect()
  })
})

describe.each([
  ['one Redis', () => ({ url: servers.redis.url })],
  ['a cluster', () => ({ cluster: { nodes: servers.cluster.nodes } })],
])('activity windows of concurrent calls on %s', (_name, connection) => {
  it("are each the window of one order of every event, ending with the call's own", async () => {
    const prefix = `act-${randomUUID()}:`
    const processes = [
      redisStore({ ...connection(), prefix, clock: 'caller' }),
      redisStore({ ...connection(), prefix, clock: 'caller' }),
    ]
    await (processes[0] as Store).createAgent(testAgentRecord('busy', 1_000_000_000, NOW))
    const keep = 8
    let hold = 0
    const reserve = async (store: Store, events: ActivityEvent[]) => {
      const result = await store.reserve({
        handle: 'busy',
        holdId: `c${hold++}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: NOW,
        activity: { events, keep },
      })
      return { events, window: reservedWindow(result) }
    }
    // Each process's scripts loaded first (a script Redis lacks is sent again: out of order).
    const warm: { events: ActivityEvent[]; window: ActivityEvent[] | undefined }[] = []
    for (const store of processes) {
      warm.push(await reserve(store, eventsOf(1)))
      const events = eventsOf(1)
      warm.push({ events, window: await store.recordActivity('busy', events, keep) })
    }
    const url = (connection() as { url?: string }).url
    const admin = url ? new Redis(url) : undefined
    await admin?.config('RESETSTAT')
    // Every call in flight at once, from both processes: replies read while others run.
    const calls = Array.from({ length: 120 }, async (_, i) => {
      const store = processes[i % 2] as Store
      const events = eventsOf(1 + (i % 3))
      if (i % 5 === 4) return { events, window: await store.recordActivity('busy', events, keep) }
      return reserve(store, events)
    })
    const seen = [...warm, ...(await Promise.all(calls))]
    if (admin) {
      // One script a call: replies applied in the order Redis ran them needed no whole read.
      const stats = await admin.info('commandstats')
      expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1])).toBe(calls.length)
      admin.disconnect()
    }
    const name = (event: ActivityEvent) => event.tool as string
    // The order Redis appended the events in, from every window's neighbours.
    const next = new Map<string, string>()
    const previous = new Set<string>()
    for (const { window } of seen) {
      const names = (window ?? []).map(name)
      for (let i = 1; i < names.length; i++) {
        const [a, b] = [names[i - 1] as string, names[i] as string]
        expect(next.get(a) ?? b).toBe(b)
        next.set(a, b)
        previous.add(b)
      }
    }
    const all = seen.flatMap(({ events }) => events.map(name))
    const starts = all.filter((event) => !previous.has(event))
    expect(starts).toHaveLength(1)
    const order = [starts[0] as string]
    while (next.has(order[order.length - 1] as string) && order.length <= all.length) {
      order.push(next.get(order[order.length - 1] as string) as string)
    }
    expect([...order].sort()).toEqual([...all].sort())
    for (const { events, window } of seen) {
      const end = order.indexOf(name(events[events.length - 1] as ActivityEvent)) + 1
      expect(window?.map(name)).toEqual(order.slice(Math.max(0, end - keep), end))
      expect(window?.slice(-events.length)).toEqual(events)
    }
    await Promise.all(processes.map((store) => store.close()))
  })
})
