// Budget windows roll over by arithmetic on the clock, exactly at their boundary: no reset
// job, nothing to lag or fail. A window is named by its start; spend held or settled in a
// window stays in that window (a hold taken at 23:59 and settled at 00:01 is charged to the
// day it was taken in). Calendar windows are UTC unless a budget names an IANA time zone.
//
// In a time zone the windows of each `per` tile time: every instant lies in exactly one
// window [start, end), never empty, and the window of every instant in it is that window
// (so every process, whenever it computed a window, names it by the same start: the Redis
// store caches them). The local clock is the instant plus the zone's offset then; it runs
// forward, but jumps forward or back when the offset changes.
// - day, week, month: a local calendar unit. It starts at the first instant the clock read
//   a date in that unit (its first midnight, or the jump over it when the clocks skipped
//   it), and ends when the next unit starts: a day is 23 or 25 hours across a change, and
//   a midnight the clocks read twice does not start the day again (time after a jump back
//   belongs to the latest unit the clock has reached).
// - minute, hour: the stretch over which the clock reads that minute or hour, going
//   forward. It ends when the clock reaches (or jumps forward past) the next one, or goes
//   back: each pass of an hour the clocks repeat is its own window, and an hour cut short
//   by a jump forward (Chatham's 02:45 -> 03:45) is a short window.
// Every window of every `per` starts and ends on a minute window's boundary (the Redis store
// recomputes a zone's windows when the minute ends). The zone's offset changes are found
// through Intl (its offset sampled every 6 hours on a grid from the epoch, then the change
// bisected to the millisecond; two changes closer than that, which no zone has had since
// 1990, would be missed) and memoised per zone, as is each zone's current window of each
// `per` (exact, since windows tile time): the hot path is a map lookup. UTC (or no zone) is
// pure arithmetic.

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

type CalendarPer = Exclude<WindowPer, 'lifetime'>
/** A window: [start, end) in UTC ms. */
type Window = readonly [start: number, end: number]

const SECOND = 1_000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** The start of `per`'s unit containing `local` (wall-clock ms, as if local time were UTC). */
function localStart(per: CalendarPer, local: number): number {
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

/** The start of the unit after the one starting at `start` (local wall-clock ms). */
function nextLocalStart(per: CalendarPer, start: number): number {
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

/** The start (UTC ms) of the window of `per` that contains `now`. */
export function windowStart(per: WindowPer, now: number, timeZone?: string): number {
  if (per === 'lifetime') return 0
  if (!timeZone || timeZone === 'UTC') return localStart(per, now)
  return cachedWindow(per, now, timeZone)[0]
}

/** When the window of `per` containing `now` ends (UTC ms); undefined for `lifetime`. */
export function windowEnd(per: WindowPer, now: number, timeZone?: string): number | undefined {
  if (per === 'lifetime') return undefined
  if (!timeZone || timeZone === 'UTC') return nextLocalStart(per, localStart(per, now))
  return cachedWindow(per, now, timeZone)[1]
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

// --- Each zone's current windows -------------------------------------------------------

/** Zones whose windows, formatter and offset changes are kept; a fleet has a handful. */
const MAX_ZONES = 1_000

/** Each zone's last computed window of each `per`: valid for every instant in it. */
const windows = new Map<string, Partial<Record<CalendarPer, Window>>>()

function cachedWindow(per: CalendarPer, now: number, timeZone: string): Window {
  let known = windows.get(timeZone)
  const window = known?.[per]
  if (window && window[0] <= now && now < window[1]) return window
  const computed = zoneWindow(per, now, timeZone)
  if (!known) {
    if (windows.size >= MAX_ZONES) windows.clear()
    known = {}
    windows.set(timeZone, known)
  }
  known[per] = computed
  return computed
}

/** How far around now a window's computation needs the zone's offsets. */
const REACH: Record<CalendarPer, number> = {
  minute: 2 * DAY,
  hour: 2 * DAY,
  day: 3 * DAY,
  week: 9 * DAY,
  month: 33 * DAY,
}

/**
 * The window of `per` containing `now` in `timeZone` (not UTC), computed afresh (windowStart
 * and windowEnd memoise it); exported for the tests.
 */
export function zoneWindow(per: CalendarPer, now: number, timeZone: string): Window {
  const line = timeline(timeZone, now - REACH[per], now + REACH[per])
  if (per === 'minute' || per === 'hour') {
    return readingWindow(line, per === 'minute' ? MINUTE : HOUR, now)
  }
  return calendarWindow(line, per, now)
}

/** Minute and hour: the stretch over which the clock reads now's minute or hour, going forward. */
function readingWindow(line: Timeline, unit: number, now: number): Window {
  const reading = (at: number, segment: number) =>
    Math.floor((at + offsetOf(line, segment)) / unit) * unit
  const i = segmentOf(line, now)
  const read = reading(now, i)
  // Back from now: the instant this offset's clock reached the reading, or the change to
  // this offset, unless the clock jumped forward to it from the same reading.
  let start = startOf(line, 0)
  for (let segment = i; segment >= 0; segment--) {
    const reached = read - offsetOf(line, segment)
    if (reached > startOf(line, segment)) {
      start = reached
      break
    }
    start = startOf(line, segment)
    const previous = segment - 1
    if (previous < 0 || offsetOf(line, previous) > offsetOf(line, segment)) break
    if (reading(start - 1, previous) !== read) break
  }
  // On from now: the instant the clock reaches the next reading, or the next change of
  // offset, unless the clock jumps forward within the reading.
  let end = 0
  for (let segment = i; ; segment++) {
    const reached = read + unit - offsetOf(line, segment)
    const next = segment + 1
    if (next === line.starts.length || reached < startOf(line, next)) {
      end = reached
      break
    }
    end = startOf(line, next)
    if (offsetOf(line, next) < offsetOf(line, segment) || reading(end, next) !== read) break
  }
  return [start, end]
}

/** Day, week, month: the latest unit the clock has reached, from its first reading to the next's. */
function calendarWindow(line: Timeline, per: CalendarPer, now: number): Window {
  const i = segmentOf(line, now)
  // The furthest the clock has read: now's reading, or the last before it went back.
  let furthest = now + offsetOf(line, i)
  for (let segment = i; segment > 0 && startOf(line, segment) > now - 2 * DAY; segment--) {
    furthest = Math.max(furthest, startOf(line, segment) - 1 + offsetOf(line, segment - 1))
  }
  const unit = localStart(per, furthest)
  const first = segmentOf(line, now - REACH[per])
  return [firstReading(line, first, unit), firstReading(line, first, nextLocalStart(per, unit))]
}

/**
 * The first instant from segment `first` on when the clock reads `local` or later: when it
 * reaches it, or when it jumps forward past it.
 */
function firstReading(line: Timeline, first: number, local: number): number {
  for (let segment = first; ; segment++) {
    const start = startOf(line, segment)
    const offset = offsetOf(line, segment)
    if (start + offset >= local) return start
    const next = segment + 1
    if (next === line.starts.length || startOf(line, next) - 1 + offset >= local) {
      return local - offset
    }
  }
}

// --- Each zone's offsets ---------------------------------------------------------------

/**
 * A zone's offsets over [from, to]: offsets[i] (ms east of UTC) from starts[i] until
 * starts[i + 1] (starts[0] is `from`; the last offset holds until `to`, and is assumed
 * after it).
 */
interface Timeline {
  from: number
  to: number
  starts: number[]
  offsets: number[]
}

/** Offsets are sampled on this grid (from the epoch, so every process samples alike). */
const STEP = 6 * HOUR
/** A request further than this from a zone's known offsets starts them afresh. */
const MAX_GAP = 60 * DAY
/** Known offsets spanning more than this start afresh. */
const MAX_SPAN = 3 * 366 * DAY

const timelines = new Map<string, Timeline>()

/** When segment `i` of `line` starts (0 <= i < line.starts.length). */
const startOf = (line: Timeline, i: number) => line.starts[i] as number
/** The offset during segment `i` of `line` (0 <= i < line.starts.length). */
const offsetOf = (line: Timeline, i: number) => line.offsets[i] as number

/** The index of the segment of `line` containing `at` (0 before it). */
function segmentOf(line: Timeline, at: number): number {
  let low = 0
  let high = line.starts.length - 1
  while (low < high) {
    const middle = (low + high + 1) >> 1
    if (startOf(line, middle) <= at) low = middle
    else high = middle - 1
  }
  return low
}

/** The zone's offsets over at least [low, high], from those known where they serve. */
function timeline(timeZone: string, low: number, high: number): Timeline {
  const from = Math.floor(low / STEP) * STEP
  const to = Math.ceil(high / STEP) * STEP
  const known = timelines.get(timeZone)
  if (known && known.from <= from && to <= known.to) return known
  if (
    known &&
    from >= known.from - MAX_GAP &&
    to <= known.to + MAX_GAP &&
    Math.max(to, known.to) - Math.min(from, known.from) <= MAX_SPAN
  ) {
    if (to > known.to) {
      scan(timeZone, known.to, to, known.starts, known.offsets)
      known.to = to
    }
    if (from < known.from) {
      const starts = [from]
      const offsets = [offsetAt(timeZone, from)]
      // Ends in the offset at known.from (a change exactly then included).
      scan(timeZone, from, known.from, starts, offsets)
      known.starts = starts.concat(known.starts.slice(1))
      known.offsets = offsets.concat(known.offsets.slice(1))
      known.from = from
    }
    return known
  }
  const line: Timeline = { from, to, starts: [from], offsets: [offsetAt(timeZone, from)] }
  scan(timeZone, from, to, line.starts, line.offsets)
  if (!known && timelines.size >= MAX_ZONES) timelines.clear()
  timelines.set(timeZone, line)
  return line
}

/** Appends the zone's offset changes in (from, to] (its offset at `from` is the last). */
function scan(
  timeZone: string,
  from: number,
  to: number,
  starts: number[],
  offsets: number[],
): void {
  let at = from
  let offset = offsets[offsets.length - 1] as number
  while (at < to) {
    const next = Math.min((Math.floor(at / STEP) + 1) * STEP, to)
    if (offsetAt(timeZone, next) === offset) {
      at = next
      continue
    }
    // The first millisecond in the new offset.
    let before = at
    let after = next
    while (after - before > 1) {
      const middle = Math.floor((before + after) / 2)
      if (offsetAt(timeZone, middle) === offset) before = middle
      else after = middle
    }
    offset = offsetAt(timeZone, after)
    starts.push(after)
    offsets.push(offset)
    at = after
  }
}

/** One formatter per zone: making an Intl.DateTimeFormat costs far more than using one. */
const formats = new Map<string, Intl.DateTimeFormat>()
const OFFSET = /GMT(?:([+\-\u2212])(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/

/** Milliseconds east of UTC of `timeZone` at instant `at`. */
function offsetAt(timeZone: string, at: number): number {
  let format = formats.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
    if (formats.size >= MAX_ZONES) formats.clear()
    formats.set(timeZone, format)
  }
  const text = format.format(at)
  const match = OFFSET.exec(text)
  if (!match) throw new Error(`cannot read the offset of ${timeZone} from "${text}"`)
  if (!match[1]) return 0
  const ms = (Number(match[2]) * 60 + Number(match[3])) * MINUTE + Number(match[4] ?? 0) * SECOND
  return match[1] === '+' ? ms : -ms
}
