// The last judgement of one of an agent's state detectors (spend, error streak) that found no
// trip, and what it read: the window (which array, from which event to which), at which ms,
// with which configuration, and which version of any process-local state it also read (the
// spend history). A call's re-check finds no trip either when it reads that window less
// events dropped from its front plus the call's own event, in the same ms, with the same
// configuration and state: the call's event changes no state (no charge, no failure, no
// success), and dropping events only takes charges and failures away. The monitor skips such
// re-checks: in a burst of calls (a pool, a fan-out) each re-check reads its predecessor's.
import type { ActivityEvent } from '../store.js'

export class StateClear {
  #window: readonly ActivityEvent[] | undefined
  #start = 0
  #end = 0
  #at = 0
  #version = -1
  #config: object | undefined

  /** `window[start..end)` at `now`, with `config` and state `version`, was judged: no trip. */
  record(
    window: readonly ActivityEvent[],
    start: number,
    end: number,
    now: number,
    config: object,
    version = 0,
  ): void {
    this.#window = window
    this.#start = start
    this.#end = end
    this.#at = now
    this.#config = config
    this.#version = version
  }

  /**
   * Whether a call's judgement of `window[start..end)` (its own event last) at `now` is
   * covered: the judgement recorded read the same array up to the event before the call's,
   * from `start` or earlier, in the same ms, with the same configuration and state version.
   * Covered, it is recorded as the last judgement in turn.
   */
  covers(
    window: readonly ActivityEvent[],
    start: number,
    end: number,
    now: number,
    config: object,
    version = 0,
  ): boolean {
    const covered =
      this.#window === window &&
      this.#end === end - 1 &&
      this.#start <= start &&
      this.#at === now &&
      this.#config === config &&
      this.#version === version
    if (covered) {
      this.#start = start
      this.#end = end
    }
    return covered
  }
}
