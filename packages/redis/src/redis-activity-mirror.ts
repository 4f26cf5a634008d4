// This process's copy of each agent's activity window (the Lua side: redis-lua-activity.ts).
// A call sends the seq of its copy and this store's reader id; Redis replies only the events
// another process appended since this one last read, so a model call reads back a few events
// or none, not the whole window (37.6 KB with 256 events).
//
// The replies are applied to the copy in the order Redis ran their scripts (`apply`, hooked
// on the command itself, before any other continuation), which is the order the Lua counts
// on. A reply that finds a hole (an earlier reply of this reader lost with its connection)
// reads the whole list once more (`recover`): a rare third round trip, after which the
// window lacks nothing unless the list was trimmed in between (once every `keep` events).

import { randomBytes } from 'node:crypto'
import type { ActivityEvent, ReserveRequest } from '@killswitch/core'

type ActivityBatch = NonNullable<ReserveRequest['activity']>

/** Agents whose window this process copies (least recently used dropped first). */
const WINDOWS_KEPT = 10_000

interface Copy {
  seq: number
  events: readonly ActivityEvent[]
}

/** What a call sends (its ARGV) and, once its reply is applied, the window it saw. */
export interface ActivitySend {
  args: (string | number)[]
  handle: string
  events: readonly ActivityEvent[]
  base: Copy | undefined
  keep: number
  /** The window ending with this call's events, once its reply was applied. */
  window?: ActivityEvent[]
  /** Set when the reply could not be completed from the copy: the seq its events end at. */
  hole?: number
  /** The `onReply` of a reserve (or confirm) carrying it: applies a granted one's window. */
  onReserveReply(reply: unknown): void
}

/** The ARGV of a call that records no activity. */
export const NO_ACTIVITY: readonly (string | number)[] = ['', -1, 0, '', 0]

type Reply = [number | string, number | string, number | string, string[]]

export class ActivityMirror {
  readonly #copies = new Map<string, Copy>()
  /** The agent whose copy was kept last (already the most recent: no reordering). */
  #last: string | undefined
  /** This store's reader id: Redis keeps, per agent, how far its replies to it reached. */
  readonly #reader = randomBytes(8).toString('hex')

  /** The ARGV of recording `batch` (activity_args of redis-lua-activity.ts). */
  send(handle: string, batch: ActivityBatch): ActivitySend {
    const keep = Math.max(1, Math.floor(batch.keep))
    const base = this.#copies.get(handle)
    const { events } = batch
    const args: (string | number)[] = [
      keep,
      base ? base.seq : -1,
      base ? base.events.length : 0,
      this.#reader,
      events.length,
    ]
    for (const event of events) args.push(JSON.stringify(event))
    const sent: ActivitySend = {
      args,
      handle,
      events,
      base,
      keep,
      onReserveReply: (reply) => {
        const [outcome, , , , activity] = reply as unknown[]
        if (outcome === 'ok') this.apply(sent, activity)
      },
    }
    return sent
  }

  /**
   * The ARGV of reading the whole window (and a list's worth before it, for `recover`),
   * without moving this reader's position.
   */
  wholeArgs(keep: number): (string | number)[] {
    return [2 * keep, -1, 0, '', 0]
  }

  /**
   * Applies a reply {seq, from, size, events} to the copy (called in the order Redis ran the
   * scripts): the window is the copy up to `from`, the events after it, then the call's own.
   * Sets `sent.window`, or `sent.hole` when the copy lacks events the reply counted on.
   */
  apply(sent: ActivitySend, reply: unknown): void {
    const [rawSeq, rawFrom, rawSize, lines] = reply as Reply
    const seq = Number(rawSeq)
    const from = Number(rawFrom)
    const size = Number(rawSize)
    const { handle, events: own, keep } = sent
    const current = this.#copies.get(handle)
    const first = seq - own.length - lines.length + 1
    let prefix: readonly ActivityEvent[] = []
    if (from >= 0) {
      const upTo = longer(upToEvent(current, from), upToEvent(sent.base, from))
      if (!upTo) {
        sent.hole = seq
        return
      }
      prefix = upTo
    }
    // Events another reply brought into this process already are taken from the copy, not
    // parsed again: the detectors find where they left off by the events' identity.
    const skip = Math.max(0, prefix.length + lines.length + own.length - keep)
    const window = skip < prefix.length ? prefix.slice(skip) : []
    for (let i = Math.max(0, skip - prefix.length); i < lines.length; i++) {
      window.push(
        known(current, first + i) ??
          known(sent.base, first + i) ??
          (JSON.parse(lines[i] as string) as ActivityEvent),
      )
    }
    const ownSkip = Math.max(0, skip - prefix.length - lines.length)
    for (let i = ownSkip; i < own.length; i++) window.push(own[i] as ActivityEvent)
    if (window.length !== size) {
      sent.hole = seq
      return
    }
    sent.window = window
    this.#keep(handle, current, seq, window)
  }

  /**
   * The window of a call whose reply found a hole, from a whole read of the list made after
   * it (`wholeArgs`): the events up to the call's, its own last. Only if the list was
   * trimmed in between can some of its older events be gone: the window is then shorter.
   */
  recover(sent: ActivitySend, reply: unknown): ActivityEvent[] {
    const [rawSeq, , , lines] = reply as Reply
    const latest = Number(rawSeq)
    const end = sent.hole ?? latest
    const own = sent.events
    const current = this.#copies.get(sent.handle)
    const first = latest - lines.length + 1
    const parsed = lines.map(
      (line, i) => known(current, first + i) ?? (JSON.parse(line) as ActivityEvent),
    )
    const before = parsed.slice(0, Math.max(0, end - own.length - first + 1))
    const window = [...before, ...own].slice(-sent.keep)
    this.#keep(sent.handle, current, latest, parsed.slice(-sent.keep))
    sent.window = window
    return window
  }

  /** Keeps `events` (the window ending at `seq`) as the agent's copy when it is newer. */
  #keep(handle: string, current: Copy | undefined, seq: number, events: readonly ActivityEvent[]) {
    if (current && current.seq > seq) return
    if (handle !== this.#last) {
      this.#copies.delete(handle)
      if (this.#copies.size >= WINDOWS_KEPT) {
        this.#copies.delete(this.#copies.keys().next().value as string)
      }
      this.#last = handle
    }
    this.#copies.set(handle, { seq, events })
  }
}

/** Event number `n` from a copy, if the copy still holds it. */
function known(copy: Copy | undefined, n: number): ActivityEvent | undefined {
  if (!copy) return undefined
  const index = n - (copy.seq - copy.events.length) - 1
  return index >= 0 && index < copy.events.length ? copy.events[index] : undefined
}

function longer<T>(a: readonly T[] | undefined, b: readonly T[] | undefined) {
  return a && (!b || a.length >= b.length) ? a : b
}

/**
 * A copy's events up to event number `n`, when the copy reaches `n` (undefined otherwise):
 * the window then, or its end when the copy has moved on past some of it.
 */
function upToEvent(copy: Copy | undefined, n: number): readonly ActivityEvent[] | undefined {
  if (!copy || copy.seq < n) return undefined
  if (copy.seq === n) return copy.events
  const end = copy.events.length - (copy.seq - n)
  return end >= 0 ? copy.events.slice(0, end) : undefined
}
