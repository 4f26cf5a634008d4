// This process's copy of each agent's activity window (the Lua side: redis-lua-activity.ts).
// A call sends the seq of its copy; Redis replies only the events appended since, so a model
// call reads back a few events, not the whole window (37.6 KB with 256 events).

import type { ActivityEvent, ReserveRequest } from '@killswitch/core'

type ActivityBatch = NonNullable<ReserveRequest['activity']>

/** Agents whose window this process copies (least recently used dropped first). */
const WINDOWS_KEPT = 10_000

interface Copy {
  seq: number
  events: readonly ActivityEvent[]
}

/** What a call sends (its ARGV) and what it needs to read the reply. */
export interface ActivitySend {
  args: (string | number)[]
  base: Copy | undefined
  keep: number
}

/** The ARGV of a call that records no activity. */
export const NO_ACTIVITY: readonly (string | number)[] = ['', -1, 0, 0]

export class ActivityMirror {
  readonly #copies = new Map<string, Copy>()

  /** The ARGV of recording `batch` (activity_args of redis-lua-activity.ts). */
  send(handle: string, batch: ActivityBatch): ActivitySend {
    const keep = Math.max(1, Math.floor(batch.keep))
    const base = this.#copies.get(handle)
    const { events } = batch
    return {
      args: [
        keep,
        base ? base.seq : -1,
        base ? base.events.length : 0,
        events.length,
        ...events.map((event) => JSON.stringify(event)),
      ],
      base,
      keep,
    }
  }

  /**
   * The window after the call, from its reply {seq, whole ('1' | '0'), events}: the copy the
   * call was sent with plus the events it lacked. Kept as the agent's copy when it is newer.
   */
  read(handle: string, sent: ActivitySend, reply: unknown): ActivityEvent[] {
    const [seq, whole, lines] = reply as [number, string, string[]]
    const current = this.#copies.get(handle)
    // The reply ends at event number `seq` (every event ever appended is numbered). Events
    // another call's reply brought into this process already are taken from the copy, not
    // parsed again: with many calls in flight each reply repeats the others' events, and
    // the detectors find where they left off by the events' identity.
    const first = Number(seq) - lines.length + 1
    const fresh = lines.map(
      (line, i) =>
        known(current, first + i) ??
        known(sent.base, first + i) ??
        (JSON.parse(line) as ActivityEvent),
    )
    const window =
      whole === '1' || !sent.base ? fresh : [...sent.base.events, ...fresh].slice(-sent.keep)
    if (!current || current.seq <= seq) {
      this.#copies.delete(handle)
      if (this.#copies.size >= WINDOWS_KEPT) {
        this.#copies.delete(this.#copies.keys().next().value as string)
      }
      this.#copies.set(handle, { seq: Number(seq), events: window })
    }
    return window
  }
}

/** Event number `n` from a copy, if the copy still holds it. */
function known(copy: Copy | undefined, n: number): ActivityEvent | undefined {
  if (!copy) return undefined
  const index = n - (copy.seq - copy.events.length) - 1
  return index >= 0 && index < copy.events.length ? copy.events[index] : undefined
}
