// Replays a trace through the real monitor (one per process) over a real store (memory),
// with the defaults or a given policy, and says what fired, when, and what the trace had
// spent by then. A refusal ends a runaway's replay (it is stopped); an honest trace is
// replayed to its end so that every refusal it would suffer is counted.
import type { AgentRecord, Store } from '../../store.js'
import { memoryStore } from '../../stores/memory-store.js'
import type { RunawayConfig } from '../config.js'
import { createRunawayMonitor } from '../create-runaway-monitor.js'
import type { RunawayAction, RunawayMonitor } from '../types.js'
import type { Trace } from './trace.js'

/** Virtual time of a trace's start (any fixed instant). */
const T0 = 1_767_225_600_000

export interface Firing {
  detector: string
  action: RunawayAction
  enforced: boolean
  /** Ms from the trace's start. */
  at: number
  /** Spent by the trace when it fired, micro-dollars. */
  spentMicros: number
  summary: string
}

export interface ReplayResult {
  trace: Trace
  /** The first refusal (block, stop or revoke): for a runaway, where it was stopped. */
  stopped?: Firing
  /** The first warning. */
  warned?: Firing
  /** Refusals over the whole replay (honest traces only: a runaway stops at its first). */
  refusals: number
  /** Calls (model and tool) replayed. */
  calls: number
  /** Spent by the trace in all (to its end, or to where it was stopped). */
  spentMicros: number
  /** Runaways: spent since the loop began, when stopped (or to the end). */
  loopSpentMicros: number
  /** Runaways: ms from the loop's start to the stop. */
  msPastLoopStart?: number
  /** Whether the trace meets its goal (see `goalOf`). */
  met: boolean
}

/**
 * Replays `trace` on `store` (a fresh memory store when left out). `runaway` is the agent's
 * policy (the defaults when left out); with `enforce: false` nothing is refused and `stopped`
 * says what would have been.
 *
 * @example
 * const result = await replayTrace(trace)
 * console.log(result.stopped?.detector, result.met)
 */
export async function replayTrace(
  trace: Trace,
  runaway: RunawayConfig = {},
  store: Store = memoryStore(),
): Promise<ReplayResult> {
  const agent: AgentRecord = await store.createAgent({
    handle: `corpus-${trace.name}`,
    credentialHash: '0'.repeat(64),
    capMicros: Math.round(trace.capUsd * 1_000_000),
    currency: 'usd',
    createdAt: T0,
    updatedAt: T0,
    policy: { alerts: [], runaway },
  })
  const monitors = Array.from({ length: trace.processes }, () => createRunawayMonitor(store))
  const loopStart = trace.loopStartAt ?? 0
  let spent = 0
  let loopSpent = 0
  let calls = 0
  let refusals = 0
  let stopped: Firing | undefined
  let warned: Firing | undefined
  for (const step of trace.steps) {
    spent += step.costMicros
    if (step.at >= loopStart) loopSpent += step.costMicros
    const kind = step.observation.kind
    if (kind === 'model_call' || kind === 'tool_call') calls++
    const monitor = monitors[step.process] ?? (monitors[0] as RunawayMonitor)
    const verdict = await monitor.observe(
      { ...agent, spentMicros: spent },
      step.observation,
      T0 + step.at,
    )
    if (verdict.action === 'none') continue
    const firing: Firing = {
      detector: verdict.finding?.detector ?? 'unknown',
      action: verdict.action,
      enforced: verdict.enforced,
      at: step.at,
      spentMicros: spent,
      summary: verdict.finding?.summary ?? '',
    }
    if (verdict.action === 'warn') {
      warned ??= firing
      continue
    }
    refusals++
    stopped ??= firing
    if (trace.kind === 'runaway') break
  }
  const result: ReplayResult = {
    trace,
    ...(stopped ? { stopped } : {}),
    ...(warned ? { warned } : {}),
    refusals,
    calls,
    spentMicros: spent,
    loopSpentMicros: loopSpent,
    ...(stopped && trace.kind === 'runaway' ? { msPastLoopStart: stopped.at - loopStart } : {}),
    met: false,
  }
  result.met = goalOf(result)
  return result
}

/** A runaway must be stopped within this fraction of its cap (spent since its loop began)... */
export const GOAL_CAP_FRACTION = 0.1
/** ...and within this long of its loop's start, whichever comes first. */
export const GOAL_MS = 60_000

/**
 * The goals: an honest trace is never refused; a runaway is refused before its loop has spent
 * 10% of the cap and (unless its loop is slower than a minute can show) within 60 s.
 */
export function goalOf(result: ReplayResult): boolean {
  const { trace, stopped } = result
  if (trace.kind === 'honest') return result.refusals === 0
  if (!stopped) return false
  const withinMoney = result.loopSpentMicros < trace.capUsd * 1_000_000 * GOAL_CAP_FRACTION
  const withinTime = trace.timeGoal === false || (result.msPastLoopStart ?? 0) <= GOAL_MS
  return withinMoney && withinTime
}
