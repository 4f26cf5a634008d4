// An adapter's overhead, measured side by side: each pair's baseline and guarded task run in
// the same short tinybench rounds (after a warm-up of every path), and each column is the
// median of the rounds' medians. Load from other processes drifts over seconds; this way it
// weighs on both sides alike instead of on whichever task ran during a busy second.
import { Bench } from 'tinybench'
import { median } from './stats.ts'

/** One scenario: its name, the baseline task and the guarded task. */
export type SideBySidePair = [name: string, baseline: () => unknown, guarded: () => unknown]

/** A scenario's medians in µs and their ratio (guarded / baseline). */
export interface SideBySideRow {
  name: string
  baselineMedianUs: number
  guardedMedianUs: number
  ratio: number
}

/**
 * Runs the pairs in interleaved rounds and returns a row per pair.
 *
 * @example
 * const rows = await sideBySide([['invoke vs a no-op handler', () => noop(), () => guarded()]])
 */
export async function sideBySide(
  pairs: readonly SideBySidePair[],
  options: { rounds?: number; timeMs?: number; warmups?: number } = {},
): Promise<SideBySideRow[]> {
  const { rounds = 7, timeMs = 250, warmups = 50 } = options
  // The first task measured would otherwise pay for the JIT.
  for (const [, baseline, guarded] of pairs) {
    for (let i = 0; i < warmups; i++) {
      await baseline()
      await guarded()
    }
  }
  const samples = new Map<string, number[]>()
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: timeMs, warmupTime: 50 })
    for (const [name, baseline, guarded] of pairs) {
      bench.add(`${name} (baseline)`, baseline)
      bench.add(`${name} (guarded)`, guarded)
    }
    await bench.run()
    for (const task of bench.tasks) {
      const result = task.result
      if (result === undefined || !('latency' in result)) {
        throw new Error(`benchmark task "${task.name}" did not complete`)
      }
      samples.set(task.name, [...(samples.get(task.name) ?? []), result.latency.p50 * 1000])
    }
  }
  const round2 = (value: number) => Math.round(value * 100) / 100
  return pairs.map(([name]) => {
    const baselineMedianUs = median(samples.get(`${name} (baseline)`) ?? [Number.NaN])
    const guardedMedianUs = median(samples.get(`${name} (guarded)`) ?? [Number.NaN])
    return {
      name,
      baselineMedianUs: round2(baselineMedianUs),
      guardedMedianUs: round2(guardedMedianUs),
      ratio: round2(guardedMedianUs / baselineMedianUs),
    }
  })
}
