// The windows of every zone around every offset change of 2026-2027: they tile time (the
// window of every instant in a window is that window, the next starts where it ends),
// calendar windows start at the first instant the clock read their unit, and minute and hour
// windows are the stretches over which the clock reads one minute or hour going forward.
// The offsets are read here through Intl's local date and time (windows.ts reads Intl's
// offset): a check independent of the code under test.
import { describe, expect, it } from 'vitest'
import { windowEnd, windowStart, zoneWindow } from './windows.js'

type Per = 'minute' | 'hour' | 'day' | 'week' | 'month'
const PERS: readonly Per[] = ['minute', 'hour', 'day', 'week', 'month']
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const at = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()

const formats = new Map<string, Intl.DateTimeFormat>()
/** The zone's clock at `t`, as if local time were UTC (ms). */
function clock(t: number, zone: string): number {
  let format = formats.get(zone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formats.set(zone, format)
  }
  const parts = format.formatToParts(t)
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value)
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'))
  return local + get('second') * 1000 + (((t % 1000) + 1000) % 1000)
}
const offset = (t: number, zone: string) => clock(t, zone) - t

function unitStart(per: Per, local: number): number {
  const day = Math.floor(local / DAY) * DAY
  switch (per) {
    case 'minute':
      return Math.floor(local / MINUTE) * MINUTE
    case 'hour':
      return Math.floor(local / HOUR) * HOUR
    case 'day':
      return day
    case 'week':
      return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY
    case 'month': {
      const date = new Date(local)
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
    }
  }
}
function nextUnit(per: Per, start: number): number {
  const date = new Date(start)
  const lengths = { minute: MINUTE, hour: HOUR, day: DAY, week: 7 * DAY }
  return per === 'month'
    ? Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
    : start + lengths[per]
}

interface Change {
  at: number
  before: number
  after: number
}

/**
 * The zone's offset changes in [from, to): sampled every 3 days (no two were closer than 35
 * days in 2026-2027, checked hourly with tzdata 2026c), then bisected to the millisecond.
 */
function changesOf(zone: string, from: number, to: number): Change[] {
  const changes: Change[] = []
  let before = offset(from, zone)
  let low = from
  for (let t = from + 3 * DAY; t <= to; t += 3 * DAY) {
    while (offset(t, zone) !== before) {
      let high = t
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2)
        if (offset(middle, zone) === before) low = middle
        else high = middle
      }
      const after = offset(high, zone)
      changes.push({ at: high, before, after })
      before = after
      low = high
    }
    low = t
  }
  return changes
}

/** How far around a change its windows are walked, one by one. */
const WALK: Record<Per, number> = {
  minute: 5 * MINUTE,
  hour: 3 * HOUR,
  day: 2 * DAY,
  week: 8 * DAY,
  month: 32 * DAY,
}

/** Every violation of the windows' invariants around `change` (empty when none). */
function violations(zone: string, change: Change, changes: readonly Change[]): string[] {
  const found: string[] = []
  const jump = Math.abs(change.after - change.before)
  // The furthest the clock read before `t` (changes within the last two days).
  const furthestBefore = (t: number) =>
    Math.max(
      clock(t - 1, zone),
      ...changes.filter((c) => c.at < t && c.at > t - 2 * DAY).map((c) => c.at - 1 + c.before),
    )
  for (const per of PERS) {
    const fail = (why: string, t: number) => {
      found.push(`${zone} ${per} change ${iso(change.at)}: ${why} at ${iso(t)}`)
      return undefined
    }
    const check = (now: number): number | undefined => {
      const [start, end] = zoneWindow(per, now, zone)
      if (!(start <= now && now < end)) return fail(`[${iso(start)}, ${iso(end)})`, now)
      for (const x of [start, end - 1, Math.floor((start + end) / 2), now]) {
        const [s, e] = zoneWindow(per, x, zone)
        if (s !== start || e !== end) return fail(`not [${iso(start)}, ${iso(end)})`, x)
      }
      if (zoneWindow(per, end, zone)[0] !== end) return fail('the next does not start at end', end)
      if (zoneWindow(per, start - 1, zone)[1] !== start) return fail('the last does not end', start)
      if (windowStart(per, now, zone) !== start || windowEnd(per, now, zone) !== end) {
        return fail('memoised window differs', now)
      }
      if (per === 'minute' || per === 'hour') {
        // The clock reads one minute or hour through the window, never going back, and
        // reads another (or went back) on either side.
        const read = unitStart(per, clock(start, zone))
        if (unitStart(per, clock(end - 1, zone)) !== read) return fail('reading changes', end - 1)
        if (unitStart(per, clock(now, zone)) !== read) return fail('reading changes', now)
        if (changes.some((c) => c.at > start && c.at < end && c.after < c.before)) {
          return fail('the clock went back inside', now)
        }
        const back = (t: number) => offset(t, zone) < offset(t - 1, zone)
        if (unitStart(per, clock(start - 1, zone)) === read && !back(start)) {
          return fail('starts inside a reading', start)
        }
        if (unitStart(per, clock(end, zone)) === read && !back(end)) {
          return fail('ends inside a reading', end)
        }
      } else {
        // Starts when the clock first reads its unit, ends when it first reads the next.
        const unit = unitStart(per, clock(start, zone))
        if (furthestBefore(start) >= unit) return fail('the unit was read before', start)
        const next = nextUnit(per, unit)
        if (clock(end, zone) < next || furthestBefore(end) >= next) {
          return fail('does not end at the next unit', end)
        }
      }
      return end
    }
    // Walk the windows from before the change (and the time it repeats or skips) to after
    // it (minutes: only around the change itself, the rest are plain minutes).
    const around = per === 'minute' ? WALK.minute : WALK[per] + jump
    for (let t: number | undefined = change.at - around; t !== undefined; ) {
      t = check(t)
      if (t !== undefined && t >= change.at + around) break
    }
    for (const d of [-1, 0, 1, jump - 1, jump, -jump - 1, -jump, 30 * MINUTE, -30 * MINUTE]) {
      check(change.at + d)
    }
  }
  return found
}

describe('budget windows around every offset change of every zone, 2026-2027', () => {
  it('tile time, contain now, and follow the clock', () => {
    const from = at('2026-01-01T00:00:00Z')
    const to = at('2028-01-01T00:00:00Z')
    const zones = Intl.supportedValuesOf('timeZone')
    let changes = 0
    const found: string[] = []
    for (const zone of zones) {
      const all = changesOf(zone, from - 40 * DAY, to + 40 * DAY)
      for (const change of all.filter((c) => c.at >= from && c.at < to)) {
        changes++
        found.push(...violations(zone, change, all))
      }
    }
    expect(zones.length).toBeGreaterThan(300)
    expect(changes).toBeGreaterThan(400)
    expect(found.slice(0, 20)).toEqual([])
  }, 60_000)
})

describe('budget windows where the clocks change', () => {
  it('does not restart a day (or month) when midnight comes twice', () => {
    // Havana, 2026-11-01: 01:00 CDT (05:00Z) became 00:00 CST: midnight came at 04:00Z and
    // again at 05:00Z. The day (and November) began at the first; it lasts 25 hours.
    const zone = 'America/Havana'
    for (const now of [at('2026-11-01T04:30:00Z'), at('2026-11-01T05:30:00Z')]) {
      expect(windowStart('day', now, zone)).toBe(at('2026-11-01T04:00:00Z'))
      expect(windowEnd('day', now, zone)).toBe(at('2026-11-02T05:00:00Z'))
      expect(windowStart('month', now, zone)).toBe(at('2026-11-01T04:00:00Z'))
      expect(windowEnd('month', now, zone)).toBe(at('2026-12-01T05:00:00Z'))
    }
    // Azores, 2026-10-25: 01:00 (+00, 01:00Z) became 00:00 (-01).
    for (const now of [at('2026-10-25T00:30:00Z'), at('2026-10-25T01:30:00Z')]) {
      expect(windowStart('day', now, 'Atlantic/Azores')).toBe(at('2026-10-25T00:00:00Z'))
      expect(windowEnd('day', now, 'Atlantic/Azores')).toBe(at('2026-10-26T01:00:00Z'))
    }
  })

  it('ends the first pass of a repeated hour where the second pass starts', () => {
    // Paris, 2026-10-25: 03:00 CEST (01:00Z) became 02:00 CET; 02:00-02:59 came twice.
    const zone = 'Europe/Paris'
    const now = at('2026-10-25T00:59:30Z')
    expect(windowStart('hour', now, zone)).toBe(at('2026-10-25T00:00:00Z'))
    expect(windowEnd('hour', now, zone)).toBe(at('2026-10-25T01:00:00Z'))
    expect(windowStart('minute', now, zone)).toBe(at('2026-10-25T00:59:00Z'))
    expect(windowEnd('minute', now, zone)).toBe(at('2026-10-25T01:00:00Z'))
    expect(windowStart('hour', at('2026-10-25T01:00:00Z'), zone)).toBe(at('2026-10-25T01:00:00Z'))
    expect(windowEnd('hour', at('2026-10-25T01:00:00Z'), zone)).toBe(at('2026-10-25T02:00:00Z'))
  })

  it('starts an hour cut short by a jump forward at the jump, never after now', () => {
    // Chatham, 2026-09-26: 02:45 (+12:45, 14:00Z) became 03:45 (+13:45).
    const zone = 'Pacific/Chatham'
    const now = at('2026-09-26T14:05:00Z')
    expect(windowStart('hour', now, zone)).toBe(at('2026-09-26T14:00:00Z'))
    expect(windowEnd('hour', now, zone)).toBe(at('2026-09-26T14:15:00Z'))
    expect(windowStart('hour', at('2026-09-26T13:59:59.999Z'), zone)).toBe(
      at('2026-09-26T13:15:00Z'),
    )
  })

  it('gives the memoised window and a fresh computation alike, in any order of calls', () => {
    const zone = 'Europe/Paris'
    const base = at('2026-10-24T22:00:00Z')
    const instants = Array.from({ length: 200 }, (_, i) => base + ((i * 7_919_113) % (6 * HOUR)))
    for (const per of PERS) {
      for (const now of instants) {
        const [start, end] = zoneWindow(per, now, zone)
        expect([windowStart(per, now, zone), windowEnd(per, now, zone)]).toEqual([start, end])
      }
    }
  })
})
