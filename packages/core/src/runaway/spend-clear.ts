// The last judgement of an agent's spend (velocity and spike) that found no trip, and what it
// read: the window (which array, from which event to which), at which ms, and which version
// of this process's spend history. A call's re-check finds no trip either when it reads that
// window less events dropped from its front plus the call's own event (which charges
// nothing), in the same ms, with no charge added since: velocity sums fewer charges, and the
// spike reads the same history at the same time. The monitor skips such re-checks: in a
// burst of calls (a pool, a fan-out) each one's re-check reads its predecessor's window.
import type { ActivityEvent } from '../store.js'
import type { SpendHistory } from './spend-history.js'

export class SpendClear {
  #window: readonly ActivityEvent[] | undefined
  #start = 0
  #end = 0
  #at = 0
  #version = -1

  /** `window[start..end)` at `now`, with `spend` as it is, was judged: no trip. */
  record(
    window: readonly ActivityEvent[],
    start: number,
    end: number,
    now: number,
    spend: SpendHistory,
  ): void {
    this.#window = window
    this.#start = start
    this.#end = end
    this.#at = now
    this.#version = spend.version
  }

  /**
   * Whether a call's judgement of `window[start..end)` (its own event last) at `now` is
   * covered: the judgement recorded read the same array up to the event before the call's,
   * from `start` or earlier, in the same ms, with the same spend. Covered, it is recorded as
   * the last judgement in turn.
   */
  covers(
    window: readonly ActivityEvent[],
    start: number,
    end: number,
    now: number,
    spend: SpendHistory,
  ): boolean {
    const covered =
      this.#window === window &&
      this.#end === end - 1 &&
      this.#start <= start &&
      this.#at === now &&
      this.#version === spend.version
    if (covered) {
      this.#start = start
      this.#end = end
    }
    return covered
  }
}
