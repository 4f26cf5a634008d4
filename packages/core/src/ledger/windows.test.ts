import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { WINDOW_PERS, windowEnd, windowStart } from './windows.js'

const at = (iso: string) => Date.parse(iso)

describe('budget windows', () => {
  it('starts UTC calendar windows at their boundary', () => {
    const now = at('2026-12-02T13:45:30.500Z') // a Wednesday
    expect(windowStart('minute', now)).toBe(at('2026-12-02T13:45:00Z'))
    expect(windowStart('hour', now)).toBe(at('2026-12-02T13:00:00Z'))
    expect(windowStart('day', now)).toBe(at('2026-12-02T00:00:00Z'))
    expect(windowStart('week', now)).toBe(at('2026-11-30T00:00:00Z'))
    expect(windowStart('month', now)).toBe(at('2026-12-01T00:00:00Z'))
    expect(windowStart('lifetime', now)).toBe(0)
    expect(windowEnd('month', now)).toBe(at('2027-01-01T00:00:00Z'))
    expect(windowEnd('week', now)).toBe(at('2026-12-07T00:00:00Z'))
    expect(windowEnd('lifetime', now)).toBeUndefined()
  })

  it('rolls over exactly at the boundary: the last millisecond belongs to the old window', () => {
    const midnight = at('2026-12-03T00:00:00Z')
    expect(windowStart('day', midnight - 1)).toBe(at('2026-12-02T00:00:00Z'))
    expect(windowStart('day', midnight)).toBe(midnight)
  })

  it('follows a time zone, across a daylight-saving change', () => {
    // New York: midnight is 05:00Z in winter, 04:00Z in summer; DST ended 2026-11-01.
    expect(windowStart('day', at('2026-12-02T03:00:00Z'), 'America/New_York')).toBe(
      at('2026-12-01T05:00:00Z'),
    )
    expect(windowStart('day', at('2026-07-02T03:00:00Z'), 'America/New_York')).toBe(
      at('2026-07-01T04:00:00Z'),
    )
    expect(windowEnd('day', at('2026-10-31T12:00:00Z'), 'America/New_York')).toBe(
      at('2026-11-01T04:00:00Z'),
    )
    expect(windowStart('month', at('2026-12-01T03:00:00Z'), 'Asia/Kolkata')).toBe(
      at('2026-11-30T18:30:00Z'),
    )
  })

  it('contains now in the hour the clocks went back, in both of its passes', () => {
    // Paris, 2075-10-27: 03:00 CEST (01:00Z) became 02:00 CET; 02:00-02:59 came twice.
    for (const iso of ['2075-10-27T00:00:00Z', '2075-10-27T00:59:59Z', '2075-10-27T01:30:00Z']) {
      const now = at(iso)
      for (const per of ['minute', 'hour'] as const) {
        const start = windowStart(per, now, 'Europe/Paris')
        const end = windowEnd(per, now, 'Europe/Paris') as number
        expect(start).toBeLessThanOrEqual(now)
        expect(end).toBeGreaterThan(now)
        expect(windowStart(per, end, 'Europe/Paris')).toBe(end)
      }
    }
    // The first pass's minute starts at its own instant, not at the second pass's.
    expect(windowStart('minute', at('2075-10-27T00:00:00Z'), 'Europe/Paris')).toBe(
      at('2075-10-27T00:00:00Z'),
    )
  })

  it('starts a day whose midnight the clocks jumped over at the jump', () => {
    // Santiago, 2078-09-04: 00:00 (-04, 04:00Z) became 01:00 (-03); that midnight never came.
    const zone = 'America/Santiago'
    const jump = at('2078-09-04T04:00:00Z')
    expect(windowEnd('day', at('2078-09-03T06:33:29Z'), zone)).toBe(jump)
    expect(windowStart('day', jump, zone)).toBe(jump)
    expect(windowStart('day', at('2078-09-04T12:00:00Z'), zone)).toBe(jump)
  })

  it('ends a window whose end the clocks jumped over at the jump', () => {
    // New York, 2072-03-13: 02:00 EST (07:00Z) became 03:00 EDT; 02:00 never came.
    const now = at('2072-03-13T06:00:00Z') // 01:00 EST
    expect(windowStart('hour', now, 'America/New_York')).toBe(now)
    expect(windowEnd('hour', now, 'America/New_York')).toBe(at('2072-03-13T07:00:00Z'))
    expect(windowStart('hour', at('2072-03-13T07:00:00Z'), 'America/New_York')).toBe(
      at('2072-03-13T07:00:00Z'),
    )
  })

  it('always contains now: start <= now < end, and the end is the next start', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: at('2000-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z') }),
        fc.constantFrom(...WINDOW_PERS.filter((per) => per !== 'lifetime')),
        fc.constantFrom(
          undefined,
          'UTC',
          'Europe/Paris',
          'America/New_York',
          'Asia/Kolkata',
          // Midnight skipped at the change; a half-hour change.
          'America/Santiago',
          'Australia/Lord_Howe',
        ),
        (now, per, zone) => {
          const start = windowStart(per, now, zone)
          const end = windowEnd(per, now, zone) as number
          expect(start).toBeLessThanOrEqual(now)
          expect(end).toBeGreaterThan(now)
          expect(windowStart(per, end, zone)).toBe(end)
        },
      ),
      { numRuns: 500 },
    )
  })
})
