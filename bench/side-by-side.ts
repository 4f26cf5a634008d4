// An adapter's overhead, measured side by side: the one way the adapter benches time a
// baseline hook against the guarded one. Every path is first warmed past V8's optimizing
// tier; then baseline and guarded take turns call by call (which goes first alternates), in
// rounds, and a row is the median of the rounds' medians.
// - Warm-up: Node 22's V8 optimizes a function with TurboFan after about 3,000 calls (and 500
//   more after any of its inline caches changes). The core's per-call functions run once per
//   guarded call, so after a short warm-up they still run in the baseline tier, two to three
//   times slower, while the framework's own code (called many times per call) is optimized:
//   a ratio taken then measures V8's tiering, not the code. Steady state is what a busy agent
//   pays; an agent calling too rarely to warm the code pays more, and does not notice.
// - Call by call: inside a framework call the kill switch's cost depends on what the
//   framework left in the caches, and load from other processes drifts over seconds:
//   alternating puts both sides in the same state and the same second. (Blocks of a few
//   hundred calls a side moved the AI SDK's generateText row between 0.90x and 2.06x across
//   five runs of the same code.)
import { median } from './stats.ts'

/** Calls a side before measuring: TurboFan's 3,000 invocations, and room for an IC update. */
export const WARMUP_CALLS = 4_000

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
  /** Calls a side before the first round: past V8's optimizing tier (see above). */
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
  const { rounds = 9, calls = 100, warmups = WARMUP_CALLS, afterRound } = options
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
