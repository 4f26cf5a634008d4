// The zone windows a process caches and sends with every reserve: the Lua scripts take any
// sent window that contains their clock's now (redis-lua-levels.ts, window()). That is safe
// only if such a window is the one core computes for now, whenever (and in whichever
// process) it was learned: checked here around offset changes, with no Redis needed.
import { randomUUID } from 'node:crypto'
import { type Store, windowEnd, windowStart } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { afterEach, describe, expect, it } from 'vitest'
import { redisStore } from './redis-store.js'
import { ZoneWindows } from './redis-zone-windows.js'
import { useRedisServer } from './test-support/redis-servers.js'

const MINUTE = 60_000
const PERS = ['minute', 'hour', 'day', 'week', 'month'] as const
const at = (iso: string) => Date.parse(iso)

/** The Lua's window(): the sent window of `per` if it contains now, else missing. */
function luaWindow(json: string, zone: string, per: (typeof PERS)[number], now: number) {
  const sent = JSON.parse(json) as Record<string, Record<string, [number, number]>>
  const window = sent[zone]?.[per]
  return window && window[0] <= now && now < window[1] ? window : undefined
}

describe('zone windows sent to the scripts', () => {
  // Paris 2026-10-25 (02:00-02:59 twice); Havana 2026-11-01 (midnight twice); Chatham
  // 2026-09-26 (02:45 -> 03:45); New York 2027-03-14 (02:00 skipped).
  const cases = [
    ['Europe/Paris', '2026-10-25T01:00:00Z'],
    ['America/Havana', '2026-11-01T05:00:00Z'],
    ['Pacific/Chatham', '2026-09-26T14:00:00Z'],
    ['America/New_York', '2027-03-14T07:00:00Z'],
  ] as const

  it.each(cases)(
    'in %s around %s, any sent window containing now is core’s window for now',
    (zone, change) => {
      const instants: number[] = []
      for (let t = at(change) - 2.5 * 60 * MINUTE; t < at(change) + 2.5 * 60 * MINUTE; ) {
        instants.push(t)
        t += 7 * MINUTE + 13_000
      }
      // One process per instant, each having learned the zone's windows then.
      const processes = instants.map((learnedAt) => {
        const zones = new ZoneWindows('caller')
        zones.learn([zone], learnedAt)
        return zones.toJSON()
      })
      for (const now of instants.flatMap((t) => [t, t + 29_000, t + 59_999])) {
        for (const per of PERS) {
          const start = windowStart(per, now, zone)
          const end = windowEnd(per, now, zone)
          for (const json of processes) {
            const window = luaWindow(json, zone, per, now)
            if (window) expect(window).toEqual([start, end])
          }
        }
      }
    },
  )

  it('refreshes once now leaves the minute, so every sent window contains now', () => {
    const zone = 'Europe/Paris'
    const zones = new ZoneWindows('caller')
    zones.learn([zone], at('2026-10-24T23:00:00Z'))
    for (let now = at('2026-10-24T23:00:00Z'); now < at('2026-10-25T03:00:00Z'); now += 17_000) {
      zones.refreshAt(now)
      for (const per of PERS) {
        expect(luaWindow(zones.toJSON(), zone, per, now)).toEqual([
          windowStart(per, now, zone),
          windowEnd(per, now, zone),
        ])
      }
    }
  })
})

describe('zone windows across processes (Redis)', () => {
  const server = useRedisServer()
  const opened: Store[] = []
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((store) => store.close()))
  })

  it('two processes that learned a zone at either side of a change charge one hour to one window', async () => {
    // Paris, 2026-10-25: 03:00 CEST (01:00Z) became 02:00 CET. Process A learns the zone's
    // windows at 00:59:30Z, B at 01:00:10Z; at 01:30Z both must charge the hour from 01:00Z.
    const prefix = `killswitch-test-${randomUUID()}:`
    const open = () => {
      const store = redisStore({ url: server.redis.url, prefix, clock: 'caller' })
      opened.push(store)
      return store
    }
    const [a, b] = [open(), open()]
    const created = at('2026-10-24T00:00:00Z')
    await a.createBudget({
      id: 'paris',
      limits: [{ amountMicros: 1_000_000, per: 'hour' }],
      timeZone: 'Europe/Paris',
      createdAt: created,
      updatedAt: created,
    })
    for (const handle of ['a', 'b']) {
      await a.createAgent(testAgentRecord(handle, 100_000_000, created))
      await a.updateAgent(handle, { budgets: ['paris'] }, created)
    }
    const reserve = (
      store: Store,
      handle: string,
      holdId: string,
      amountMicros: number,
      now: number,
    ) => store.reserve({ handle, holdId, amountMicros, ttlMs: 60_000, now })
    expect((await reserve(a, 'a', 'a0', 1, at('2026-10-25T00:59:30Z'))).ok).toBe(true)
    expect((await reserve(b, 'b', 'b0', 1, at('2026-10-25T01:00:10Z'))).ok).toBe(true)
    const now = at('2026-10-25T01:30:00Z')
    const first = await reserve(a, 'a', 'a1', 900_000, now)
    expect(first).toMatchObject({ ok: true })
    if (first.ok) expect(first.levels).toContain(`budget:paris/hour@${at('2026-10-25T01:00:00Z')}`)
    expect(await reserve(b, 'b', 'b1', 900_000, now)).toMatchObject({
      ok: false,
      reason: 'cap',
      refusal: { level: 'budget', budgetId: 'paris', per: 'hour' },
    })
  })
})
