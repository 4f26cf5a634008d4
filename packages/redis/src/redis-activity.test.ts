// The activity window on Redis, written by the reserve that grants a call or by the activity
// script, read back as a delta against each process's copy (redis-activity-mirror.ts): every
// window any process sees must be the window the memory store gives for the same calls.
import { randomUUID } from 'node:crypto'
import { type ActivityEvent, memoryStore, type Store } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
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
    seen.push(result.ok ? result.activity : undefined)
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

describe('activity window replies', () => {
  it('carry only the events a process lacks, not the whole window', async () => {
    const prefix = `act-${randomUUID()}:`
    const store = redisStore({ url: servers.redis.url, prefix, clock: 'caller' })
    await store.createAgent(testAgentRecord('wire', 1_000_000_000, NOW))
    const window = await store.recordActivity('wire', eventsOf(300), 256)
    expect(window).toHaveLength(256)
    await store.close()
    const raw = new Redis(servers.redis.url)
    raw.defineCommand('activity', SCRIPTS.killswitchActivityV2)
    const keys = redisKeys(prefix)
    const send = (args: (string | number)[]) =>
      (
        raw as unknown as { activity(...args: unknown[]): Promise<[number, string, string[]]> }
      ).activity(keys.ledger('wire')[0], keys.activity('wire'), ...args)
    const [next] = eventsOf(1)
    // A copy at seq 300 holding 256 events: the reply is the one new event.
    expect(await send([256, 300, 256, 1, JSON.stringify(next)])).toEqual([
      301,
      '0',
      [JSON.stringify(next)],
    ])
    // No copy: the whole window.
    const [seq, whole, lines] = await send([256, -1, 0, 0])
    expect([seq, whole, lines.length]).toEqual([301, '1', 256])
    raw.disconnect()
  })
})
