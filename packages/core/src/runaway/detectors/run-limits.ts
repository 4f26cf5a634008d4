// Per-run limits: model calls, tool calls and wall time of one agent run. Frameworks have
// their own step limits (LangGraph's recursion limit, OpenAI Agents' max_turns, AI SDK's
// stopWhen), but they are per call site and easy to raise or forget; this one is enforced
// from the agent's policy. Only runs the adapter can name (a run id) are counted.
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { formatDuration, okFinding } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const RUN_LIMITS = 'run-limits'

const OK = okFinding(RUN_LIMITS)

/** What is known of one run in this process (a run executes in one process). */
export interface RunStats {
  runId: string
  /** When this process first saw the run. */
  startedAt: number
  modelCalls: number
  toolCalls: number
}

type Limit = 'modelCalls' | 'toolCalls' | 'durationMs'

/**
 * Judges a run against its limits: the call past `maxModelCalls` (or `maxToolCalls`) trips,
 * as does any call once the run has lasted more than `maxDurationMs`. Warns from
 * `warnFraction` of each limit.
 *
 * @example
 * detectRunLimits({ runId: 'r1', startedAt: 0, modelCalls: 201, toolCalls: 0 }, 1_000, DEFAULT_RUNAWAY_CONFIG.runLimits).status // 'trip'
 */
export function detectRunLimits(
  run: RunStats | undefined,
  now: number,
  config: ResolvedRunawayConfig['runLimits'],
): DetectorFinding {
  if (!run) return OK
  const durationMs = Math.max(0, now - run.startedAt)
  const readings: Array<[Limit, number, number]> = [
    ['modelCalls', run.modelCalls, config.maxModelCalls],
    ['toolCalls', run.toolCalls, config.maxToolCalls],
    ['durationMs', durationMs, config.maxDurationMs],
  ]
  let worst: [Limit, number, number] | undefined
  let status: DetectorFinding['status'] = 'ok'
  for (const reading of readings) {
    const [, value, max] = reading
    if (value > max) {
      worst = reading
      status = 'trip'
      break
    }
    if (status === 'ok' && value >= Math.ceil(max * config.warnFraction)) {
      worst = reading
      status = 'warn'
    }
  }
  if (!worst) return OK
  const [limit, value, max] = worst
  const shown = limit === 'durationMs' ? formatDuration(value) : String(value)
  const allowed = limit === 'durationMs' ? formatDuration(max) : String(max)
  const name = { modelCalls: 'model calls', toolCalls: 'tool calls', durationMs: 'running for' }[
    limit
  ]
  // What to do, said where it stops (red team rt35: a batch of 500 separate asks under one
  // run id was stopped at its 201st, the message naming neither remedy).
  const option = `runLimits.max${limit[0]?.toUpperCase()}${limit.slice(1)}`
  const remedy = `; if the run is a batch of separate tasks, give each its own runId, or raise runaway.${option}`
  return {
    detector: RUN_LIMITS,
    status,
    summary:
      limit === 'durationMs'
        ? `run ${run.runId} ${name} ${shown} (limit ${allowed})${remedy}`
        : `run ${run.runId} at ${shown} ${name} (limit ${allowed})${remedy}`,
    evidence: {
      runId: run.runId,
      limit,
      value,
      max,
      warnFraction: config.warnFraction,
      modelCalls: run.modelCalls,
      toolCalls: run.toolCalls,
      durationMs,
      maxModelCalls: config.maxModelCalls,
      maxToolCalls: config.maxToolCalls,
      maxDurationMs: config.maxDurationMs,
    },
  }
}
