// Budget windows roll over by arithmetic on the clock, exactly at their boundary: no reset
// job, nothing to lag or fail. A window is named by its start; spend held or settled in a
// window stays in that window (a hold taken at 23:59 and settled at 00:01 is charged to the
// day it was taken in). Calendar windows are UTC unless a budget names an IANA time zone.

/** The length of a budget window. `lifetime` never resets. */
export type WindowPer = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'lifetime'

export const WINDOW_PERS: readonly WindowPer[] = [
  'minute',
  'hour',
  'day',
  'week',
  'month',
  'lifetime',
]

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** One formatter per zone: making an Intl.DateTimeFormat costs far more than using one. */
const formats = new Map<string, Intl.DateTimeFormat>()
/** Zones whose formatter is kept; a fleet has a handful (cleared when full). */
const MAX_FORMATS = 1_000

function formatOf(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    })
    if (formats.size >= MAX_FORMATS) formats.clear()
    formats.set(timeZone, format)
  }
  return format
}

/** Minutes east of UTC of `timeZone` at instant `at` (0 for UTC or no zone). */
function offsetMinutes(at: number, timeZone: string | undefined): number {
  if (!timeZone || timeZone === 'UTC') return 0
  const parts = formatOf(timeZone).formatToParts(at)
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value)
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'))
  return Math.round((local - Math.floor(at / MINUTE) * MINUTE) / MINUTE)
}

/** The start of `per`'s window in local wall-clock ms (as if local time were UTC). */
function localStart(per: Exclude<WindowPer, 'lifetime'>, local: number): number {
  switch (per) {
    case 'minute':
      return Math.floor(local / MINUTE) * MINUTE
    case 'hour':
      return Math.floor(local / HOUR) * HOUR
    case 'day':
      return Math.floor(local / DAY) * DAY
    case 'week': {
      const day = Math.floor(local / DAY) * DAY
      // ISO weeks start on Monday; 1970-01-01 was a Thursday (getUTCDay 4).
      const weekday = (new Date(day).getUTCDay() + 6) % 7
      return day - weekday * DAY
    }
    case 'month': {
      const date = new Date(local)
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
    }
  }
}

function nextLocalStart(per: Exclude<WindowPer, 'lifetime'>, start: number): number {
  switch (per) {
    case 'minute':
      return start + MINUTE
    case 'hour':
      return start + HOUR
    case 'day':
      return start + DAY
    case 'week':
      return start + 7 * DAY
    case 'month': {
      const date = new Date(start)
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
    }
  }
}

/** Converts a local wall-clock instant back to UTC ms (the zone's offset at that moment). */
function toUtc(local: number, timeZone: string | undefined): number {
  const guess = local - offsetMinutes(local, timeZone) * MINUTE
  // Across a DST change the offset at the guess may differ: correct once.
  return local - offsetMinutes(guess, timeZone) * MINUTE
}

/** The start (UTC ms) of the window of `per` that contains `now`. */
export function windowStart(per: WindowPer, now: number, timeZone?: string): number {
  if (per === 'lifetime') return 0
  const offset = offsetMinutes(now, timeZone)
  const local = localStart(per, now + offset * MINUTE)
  const guess = toUtc(local, timeZone)
  // The clocks jumped over the start (a skipped midnight): the window starts at the jump,
  // when the clock, in the offset before it, would have read the start.
  const before = offsetMinutes(guess, timeZone)
  if (guess + before * MINUTE < local) return local - before * MINUTE
  // The clocks went back and read the start twice: the latest reading not after now (else
  // the start could lie after now: seen at the end of daylight saving time in Paris).
  const reading = local - offset * MINUTE
  const later = reading <= now && (guess > now || reading > guess)
  return reading !== guess && later && isReading(reading, offset, timeZone) ? reading : guess
}

/** When the window of `per` containing `now` ends (UTC ms); undefined for `lifetime`. */
export function windowEnd(per: WindowPer, now: number, timeZone?: string): number | undefined {
  if (per === 'lifetime') return undefined
  const offset = offsetMinutes(now, timeZone)
  const local = nextLocalStart(per, localStart(per, now + offset * MINUTE))
  const guess = toUtc(local, timeZone)
  // In now's offset the clock reads the end after now: that is the end when the clocks
  // jumped over it (spring forward: the guess is then before now, or its clock still shows
  // the old window), or its first reading when they went back.
  const reading = local - offset * MINUTE
  if (guess <= now || guess + offsetMinutes(guess, timeZone) * MINUTE < local) return reading
  return reading < guess && isReading(reading, offset, timeZone) ? reading : guess
}

/** Whether the zone's offset at `instant` is `offset` (the clock then read instant + offset). */
function isReading(instant: number, offset: number, timeZone: string | undefined): boolean {
  return offsetMinutes(instant, timeZone) === offset
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return true
  } catch {
    return false
  }
}
