// The calendar windows the Lua scripts are told (Lua has no time zone data; see
// redis-lua-levels.ts): each time zone's current [start, end) of every `per`, computed by
// core's windows.ts for the store's clock, sent with every reserve. A script that finds a
// zone missing or stale asks for it (a 'zones' reply) before writing anything.

import { windowEnd, windowStart } from '@killswitch/core'

const PERS = ['minute', 'hour', 'day', 'week', 'month'] as const
type Windows = Record<(typeof PERS)[number], [number, number]>

function windowsAt(zone: string, at: number): Windows {
  const timeZone = zone === '' ? undefined : zone
  const windows = {} as Windows
  for (const per of PERS) {
    windows[per] = [windowStart(per, at, timeZone), windowEnd(per, at, timeZone) as number]
  }
  return windows
}

/**
 * Each zone seen so far ('' is UTC) with its windows, and Redis's clock as last seen: with
 * the server clock, windows are Redis's windows, whatever this machine's clock says.
 */
export class ZoneWindows {
  readonly #zones = new Map<string, Windows>([['', windowsAt('', Date.now())]])
  readonly #server: boolean
  /** Redis's clock minus ours, as last seen (server clock). */
  #offset = 0

  constructor(clock: 'server' | 'caller') {
    this.#server = clock === 'server'
  }

  /** The store's time for a request made at `now` (the caller's). */
  storeNow(now: number): number {
    return this.#server ? Date.now() + this.#offset : now
  }

  /** Recomputes a zone's windows once `at` left its current minute (so every window). */
  refreshAt(at: number): void {
    for (const [zone, windows] of this.#zones) {
      const [start, end] = windows.minute
      if (at < start || at >= end) this.#zones.set(zone, windowsAt(zone, at))
    }
  }

  /** A script asked for these zones at `storeNow` (Redis's clock with the server clock). */
  learn(zones: readonly string[], storeNow: number): void {
    if (this.#server) this.#offset = storeNow - Date.now()
    for (const zone of zones) this.#zones.set(zone, windowsAt(zone, storeNow))
  }

  /** Every zone's windows as the scripts read them (JSON). */
  toJSON(): string {
    return JSON.stringify(Object.fromEntries(this.#zones))
  }

  /**
   * Every zone's windows for the view script (redis-scripts-views.ts), JSON: each `per`'s
   * window start on this process's clock (`ourNow`), beside the store's window [start, end).
   */
  toViewsJSON(ourNow: number): string {
    const views: Record<string, Record<string, [number, number, number]>> = {}
    for (const [zone, windows] of this.#zones) {
      const timeZone = zone === '' ? undefined : zone
      views[zone] = Object.fromEntries(
        PERS.map((per) => [per, [windowStart(per, ourNow, timeZone), ...windows[per]]]),
      )
    }
    return JSON.stringify(views)
  }
}
