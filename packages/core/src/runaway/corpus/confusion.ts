// The corpus replayed into rows: one per trace, for the test, the bench and docs/runaway.md.
import type { RunawayConfig } from '../config.js'
import type { CorpusRow } from '../corpus.bench.js'
import { honestTraces } from './honest-traces.js'
import { replayTrace } from './replay.js'
import { runawayTraces } from './runaway-traces.js'

const round = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places

/**
 * Replays every trace (honest first) against `runaway` (the defaults when left out).
 *
 * @example
 * const misses = (await corpusRows()).filter((row) => !row.met)
 */
export async function corpusRows(runaway: RunawayConfig = {}): Promise<CorpusRow[]> {
  const rows: CorpusRow[] = []
  for (const trace of [...honestTraces(), ...runawayTraces()]) {
    const result = await replayTrace(trace, runaway)
    const { stopped } = result
    const runaway_ = trace.kind === 'runaway'
    const spent = stopped
      ? runaway_
        ? result.loopSpentMicros
        : stopped.spentMicros
      : result.spentMicros
    const at = stopped ? (runaway_ ? (result.msPastLoopStart ?? 0) : stopped.at) : null
    rows.push({
      name: trace.name,
      kind: trace.kind,
      description: trace.description,
      capUsd: trace.capUsd,
      calls: result.calls,
      fired: stopped ? `${stopped.detector} ${stopped.action}` : 'none',
      atSeconds: at === null ? null : round(at / 1_000, 1),
      spentUsd: round(spent / 1_000_000, 3),
      spentPctOfCap: round((spent / (trace.capUsd * 1_000_000)) * 100, 2),
      refusals: result.refusals,
      warned: result.warned ? result.warned.detector : null,
      met: result.met,
      timeGoal: trace.timeGoal !== false,
    })
  }
  return rows
}
