// Per-run counters in process memory. A run executes in one process, so unlike the other
// detectors' state this needs no store round trip. Bounded: least recently seen runs are
// forgotten first (a forgotten run that comes back starts counting again, so the bound is
// set far above the number of runs one process has in flight).
import type { RunStats } from './detectors/run-limits.js'

/** Counts the model and tool calls of each run seen by this process. */
export class RunTracker {
  readonly #runs = new Map<string, RunStats>()
  readonly #maxRuns: number

  constructor(maxRuns = 10_000) {
    this.#maxRuns = Math.max(1, maxRuns)
  }

  /** Records an observation of run `runId` of agent `handle`; returns the run's counters. */
  touch(handle: string, runId: string, kind: string, now: number): RunStats {
    const key = `${handle}\u0000${runId}`
    let run = this.#runs.get(key)
    if (run) {
      // Re-insert so that Map order is least recently seen first.
      this.#runs.delete(key)
    } else {
      run = { runId, startedAt: now, modelCalls: 0, toolCalls: 0 }
      if (this.#runs.size >= this.#maxRuns) {
        const oldest = this.#runs.keys().next().value
        if (oldest !== undefined) this.#runs.delete(oldest)
      }
    }
    this.#runs.set(key, run)
    if (kind === 'model_call') run.modelCalls++
    else if (kind === 'tool_call') run.toolCalls++
    return run
  }

  /** Runs currently tracked (for tests and diagnostics). */
  get size(): number {
    return this.#runs.size
  }
}
