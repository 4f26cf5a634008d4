// Percentiles of latency samples, for the benchmarks that time events themselves (across
// processes, where a harness cannot reach). Nearest-rank, so a p99 of 50 samples is the max.

/** A summary of samples in one unit (the caller's). */
export interface Summary {
  samples: number
  p50: number
  p99: number
  min: number
  max: number
  /** Every sample, in order. */
  sorted: number[]
}

/**
 * Nearest-rank percentiles of the samples.
 *
 * @example
 * summarize([3, 1, 2]) // { samples: 3, p50: 2, p99: 3, min: 1, max: 3, sorted: [1, 2, 3] }
 */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no samples')
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  return {
    samples: sorted.length,
    p50: at(0.5) as number,
    p99: at(0.99) as number,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    sorted,
  }
}

/**
 * The median of the values (the mean of the middle two for an even count).
 *
 * @example
 * median([4, 1, 3, 2]) // 2.5
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median: no values')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Now, in ms, on the clock every process of the machine shares (sub-ms resolution). */
export const wallNow = (): number => performance.timeOrigin + performance.now()
