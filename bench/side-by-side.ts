// An adapter's overhead, measured side by side: the one way the adapter benches time a
// baseline hook against the guarded one. Call by call, baseline and guarded take turns (which
// goes first alternates), in rounds; a row is the median of the rounds' medians. Inside a
// framework call the kill switch's cost depends on what the framework left in the caches, and
// load from other processes drifts over seconds: alternating call by call puts both sides in
// the same state and the same second. (Blocks of a few hundred calls a side, as before, moved
// the AI SDK's generateText row between 0.90x and 2.06x across five runs of the same code.)
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

export interface SideBySideOptions {
  /** Rounds; each yields one median a side. */
  rounds?: number
  /** Calls a side per round. */
  calls?: number
  /** Calls a side before the first round (the JIT). */
  warmups?: number
  /** Run after each round of each pair, outside the timing (e.g. clearing a mock's call log). */
  afterRound?: () => void
}

/**
 * Runs the pairs call by call, alternating, and returns a row per pair.
 *
 * @example
 * const rows = await sideBySide([['invoke vs a no-op handler', () => noop(), () => guarded()]])
 */
export async function sideBySide(
  pairs: readonly SideBySidePair[],
  options: SideBySideOptions = {},
): Promise<SideBySideRow[]> {
  const { rounds = 9, calls = 100, warmups = 50, afterRound } = options
  // The first task measured would otherwise pay for the JIT.
  for (const [, baseline, guarded] of pairs) {
    for (let i = 0; i < warmups; i++) {
      await baseline()
      await guarded()
    }
    afterRound?.()
  }
  const medians = pairs.map(() => ({ baseline: [] as number[], guarded: [] as number[] }))
  const baselineUs: number[] = []
  const guardedUs: number[] = []
  for (let round = 0; round < rounds; round++) {
    for (const [index, [, baseline, guarded]] of pairs.entries()) {
      baselineUs.length = 0
      guardedUs.length = 0
      for (let call = 0; call < calls; call++) {
        if ((call + round) % 2 === 0) {
          await time(baseline, baselineUs)
          await time(guarded, guardedUs)
        } else {
          await time(guarded, guardedUs)
          await time(baseline, baselineUs)
        }
      }
      afterRound?.()
      medians[index]?.baseline.push(median(baselineUs))
      medians[index]?.guarded.push(median(guardedUs))
    }
  }
  const round2 = (value: number) => Math.round(value * 100) / 100
  return pairs.map(([name], index) => {
    const baselineMedianUs = median(medians[index]?.baseline ?? [])
    const guardedMedianUs = median(medians[index]?.guarded ?? [])
    return {
      name,
      baselineMedianUs: round2(baselineMedianUs),
      guardedMedianUs: round2(guardedMedianUs),
      ratio: round2(guardedMedianUs / baselineMedianUs),
    }
  })
}

async function time(task: () => unknown, into: number[]): Promise<void> {
  const started = performance.now()
  await task()
  into.push((performance.now() - started) * 1000)
}
