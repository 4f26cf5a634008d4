// A sliding count over time in a fixed number of buckets: O(1) to add, O(buckets) to read,
// a few dozen bytes per agent. The rate detectors keep these in process memory instead of
// re-reading the shared activity window, which holds only the last few hundred events and
// so cannot measure a busy agent's rate over seconds (20 calls a second fill it in 6 s).
// Each process counts what it sees: several processes sharing an agent are judged each on
// its own share, which errs towards letting them through (the spend checks that matter for
// money read the shared window).

/** Buckets per window: the count is exact to one bucket's width (a tenth of the window). */
const BUCKETS = 10

/**
 * Counts amounts added over the last `windowMs` (to a tenth of it).
 *
 * @example
 * const calls = new RateWindow(10_000)
 * calls.add(Date.now(), 1)
 * calls.sum(Date.now()) // 1
 */
export class RateWindow {
  readonly #width: number
  readonly #amounts = new Float64Array(BUCKETS)
  readonly #epochs = new Float64Array(BUCKETS).fill(-1)

  constructor(windowMs: number) {
    this.#width = Math.max(1, windowMs / BUCKETS)
  }

  add(now: number, amount: number): void {
    const epoch = Math.floor(now / this.#width)
    const slot = epoch % BUCKETS
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch
      this.#amounts[slot] = 0
    }
    ;(this.#amounts as Float64Array)[slot] = (this.#amounts[slot] as number) + amount
  }

  /** The amounts added in the current bucket and the `BUCKETS - 1` before it. */
  sum(now: number): number {
    const epoch = Math.floor(now / this.#width)
    let total = 0
    for (let slot = 0; slot < BUCKETS; slot++) {
      const at = this.#epochs[slot] as number
      if (at > epoch - BUCKETS && at <= epoch) total += this.#amounts[slot] as number
    }
    return total
  }
}
