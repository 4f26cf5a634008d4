// The runaway monitor: turns each guarded event into an activity event, appends it to the
// agent's window in the store (atomically, so that a loop spread over several processes is
// seen as one), runs the detectors that the event concerns, and answers with the strongest
// action any of them asks for. The guard carries the verdict out.
//
// Which detectors judge which event: the ones about the current action (repeated call,
// cycle, slow loop, call rate, run limits) judge it when it is about to happen. The ones
// about the agent's state (spend velocity and spike, no progress, error streak) judge when
// that state changes; when their action is `block` or `stop` they are also re-checked at
// every later call, so that a block keeps refusing calls while the state lasts (an error
// streak only until its throttle has ended: no call, so no new failure, came meanwhile).
//
// A `block` is a throttle: the call is refused with a retry-after, and so is every call of
// the same scope (the run, or the agent) until it has passed, without being recorded
// (refused calls are not activity). A trip soon after a throttle ended doubles it.
import type { AgentRecord, Store } from '../store.js'
import { type AgentState, AgentStates } from './agent-state.js'
import { canonicalHash, canonicalJson } from './canonical-hash.js'
import { detectCallRate } from './detectors/call-rate.js'
import { detectErrorStreak } from './detectors/error-streak.js'
import { formatDuration } from './detectors/finding.js'
import { detectNoProgress } from './detectors/no-progress.js'
import { detectRepeatedRun } from './detectors/repeated-run.js'
import { detectRepeatedToolCall } from './detectors/repeated-tool-call.js'
import { detectRunLimits, type RunStats } from './detectors/run-limits.js'
import { detectSlowLoop } from './detectors/slow-loop.js'
import { detectSpendSpike } from './detectors/spend-spike.js'
import { detectThresholdBreach } from './detectors/threshold-breach.js'
import { detectToolCycle } from './detectors/tool-cycle.js'
import { resolveRunawayConfig } from './resolve-runaway-config.js'
import { RunTracker } from './run-tracker.js'
import type { ResolvedRunawayConfig } from './runaway-defaults.js'
import { shapeHash } from './shape-hash.js'
import type {
  DetectorFinding,
  Observation,
  RunawayAction,
  RunawayEvent,
  RunawayMonitor,
  RunawayVerdict,
} from './types.js'

/** Options of `createRunawayMonitor`. */
export interface RunawayMonitorOptions {
  /** Runs whose per-run counters this process keeps; least recently seen are forgotten first. Default 10,000. */
  maxTrackedRuns?: number
  /**
   * A warning (never a trip) from the same detector for the same agent is reported at most
   * once per this many milliseconds, so that an agent hovering above a warning level does
   * not write one audit entry per call. Default 60,000.
   */
  warnIntervalMs?: number
}

interface Pick {
  finding: DetectorFinding | undefined
  action: RunawayVerdict['action']
  handle: string
  now: number
}

/** An observation counted (`begin`), waiting for its window to be judged (`finish`). */
interface Judging {
  agent: AgentRecord
  config: ResolvedRunawayConfig
  observation: Observation
  now: number
  state: AgentState
  run: RunStats | undefined
}

const SEVERITY: Record<RunawayVerdict['action'], number> = {
  none: 0,
  warn: 1,
  block: 2,
  stop: 3,
  revoke: 4,
}

/** Argument text kept in evidence when `recordArguments` is on. */
const MAX_RECORDED_ARGUMENTS = 4_096
/** Agents whose last warning and last failure this process remembers; cleared when full. */
const MAX_TRACKED_AGENTS = 10_000
/** How soon after a failure a chain's failure is taken for its echo. */
const ECHO_MS = 2_000

const NONE_ENFORCED: RunawayVerdict = Object.freeze({ action: 'none', enforced: true })
const NONE_SHADOW: RunawayVerdict = Object.freeze({ action: 'none', enforced: false })

function none(config: ResolvedRunawayConfig): RunawayVerdict {
  return config.enforce ? NONE_ENFORCED : NONE_SHADOW
}

/**
 * Creates the runaway monitor over `store`. Detector windows live in the store (every
 * process sharing it sees the same window); per-run counters live in this process.
 *
 * @example
 * const monitor = createRunawayMonitor(store)
 * const verdict = await monitor.observe(agent, { kind: 'tool_call', tool: 'search', args: { q: 'x' } }, Date.now())
 * if (verdict.action !== 'none' && verdict.enforced) console.log(verdict.action, verdict.finding?.summary)
 */
export function createRunawayMonitor(
  store: Store,
  options: RunawayMonitorOptions = {},
): RunawayMonitor {
  const runs = new RunTracker(options.maxTrackedRuns)
  const agents = new AgentStates(MAX_TRACKED_AGENTS)
  const warnIntervalMs = options.warnIntervalMs ?? 60_000
  const warned = new Map<string, number>()
  // When this process last saw each agent fail, to tell a chain's echo from a new failure.
  const lastFailure = new Map<string, number>()

  return {
    activity(agent: AgentRecord, observation: Observation, now: number) {
      const config = resolveRunawayConfig(agent.policy?.runaway)
      if (!usesWindow(config)) return undefined
      return { event: toActivityEvent(observation, now, config), keep: config.historySize }
    },

    throttled(agent: AgentRecord, runId: string | undefined, now: number) {
      const config = resolveRunawayConfig(agent.policy?.runaway)
      if (!config.enforce) return undefined
      const throttle = agents.of(agent.handle, config).throttledAt(runId, now)
      return throttle ? throttledVerdict(throttle, now) : undefined
    },

    async observe(
      agent: AgentRecord,
      observation: Observation,
      now: number,
      recorded?: readonly RunawayEvent[],
    ): Promise<RunawayVerdict> {
      const config = resolveRunawayConfig(agent.policy?.runaway)
      const begun = begin(agent, config, observation, now)
      if (begun === undefined || 'action' in begun) return begun ?? none(config)
      if (recorded) return finish(begun, recorded, 0, recorded.length)
      const event = toActivityEvent(observation, now, config)
      if (!usesWindow(config)) return finish(begun, [event], 0, 1)
      const stored = await store.recordActivity(agent.handle, event, config.historySize)
      // The store returns the window with this event last; judge this event whatever it did.
      const window = isSameEvent(stored[stored.length - 1], event) ? stored : [...stored, event]
      return finish(begun, window, 0, window.length)
    },

    judge(
      agent: AgentRecord,
      observation: Observation,
      now: number,
      recorded: readonly RunawayEvent[],
      end = recorded.length,
      start = 0,
    ): RunawayVerdict {
      const config = resolveRunawayConfig(agent.policy?.runaway)
      const begun = begin(agent, config, observation, now)
      if (begun === undefined || 'action' in begun) return begun ?? none(config)
      return finish(begun, recorded, start, end)
    },
  }

  /**
   * What is counted of an observation before its window is read: the throttle in force, the
   * run's counters, calls in flight. Done before any await, so that concurrent calls each see
   * their own count and the calls of a fan-out see each other in flight. Returns a verdict
   * when nothing more is to be judged (an echo: undefined, a throttled call: its refusal).
   */
  function begin(
    agent: AgentRecord,
    config: ResolvedRunawayConfig,
    observation: Observation,
    now: number,
  ): Judging | RunawayVerdict | undefined {
    if (isEcho(agent.handle, observation, now)) return undefined
    const { kind, runId } = observation
    const isCall = kind === 'model_call' || kind === 'tool_call'
    const state = agents.of(agent.handle, config)
    // A throttled scope refuses its calls until the retry-after has passed; they are not
    // recorded (a refused call is not activity) and nothing else is judged meanwhile.
    if (isCall && config.enforce) {
      const throttle = state.throttledAt(runId, now)
      if (throttle) return throttledVerdict(throttle, now)
    }
    const run =
      config.runLimits.enabled && runId !== undefined
        ? runs.touch(agent.handle, runId, kind, now)
        : undefined
    if (observation.kind === 'model_call') {
      state.modelCalls.add(now, 1)
      state.flows.started('model_call', undefined, runId, now)
    } else if (observation.kind === 'tool_call') {
      state.toolCalls.add(now, 1)
      state.flows.started('tool_call', observation.tool, runId, now)
    } else if (observation.kind === 'tool_result') {
      state.flows.ended(observation.tool, runId, true)
    } else if (observation.kind === 'model_result') {
      state.flows.ended(undefined, runId, true)
    } else if (observation.kind === 'error' && observation.source === 'model') {
      state.flows.ended(undefined, runId, true)
    }
    return { agent, config, observation, now, state, run }
  }

  /**
   * Judges an observation whose event is `window[end - 1]` against `window[start..end)`
   * (the shared window as it stood at that event; read in place, copied only for a tool call).
   */
  function finish(
    judging: Judging,
    window: readonly RunawayEvent[],
    start: number,
    end: number,
  ): RunawayVerdict {
    const { agent, config: c, observation, now, state, run } = judging
    const { kind, runId } = observation
    const isCall = kind === 'model_call' || kind === 'tool_call'
    const event = window[end - 1] as RunawayEvent
    if (event.micros !== undefined && event.micros > 0) state.spend.add(now, event.micros)
    const concurrent = isCall && state.flows.concurrent(runId, now)
    if (kind !== 'tool_call' && c.slowLoop.enabled)
      state.stepIn(runId, event.micros ?? 0, kind === 'model_result')

    const before = isCall || kind === 'payment'
    // The strongest finding so far; on ties the first (the more specific detector) wins.
    const pick: Pick = { finding: undefined, action: 'none', handle: agent.handle, now }

    if (c.repeatedToolCall.enabled) {
      // A loop that restarts its run each lap: the per-run checks below see one lap only. It
      // sees events of no run too (a model working between its tools' runs), and counts none.
      const runs = state.runs.see(event)
      const paid = state.runs.samePaidCalls
      if (runId !== undefined && (runs > 0 || paid > 0) && isCall) {
        consider(
          pick,
          detectRepeatedRun(runs, runId, c.repeatedToolCall, paid),
          c.repeatedToolCall.action,
          false,
        )
      }
    }
    if (kind === 'tool_call') {
      // The sequence detectors read the window up to the call: it is always the last event.
      const calls = start === 0 && end === window.length ? window : window.slice(start, end)
      // A throttled loop waits because it was made to: that wait is no pause of its own.
      const held = heldUntil(state, runId)
      if (c.repeatedToolCall.enabled) {
        consider(
          pick,
          detectRepeatedToolCall(calls, now, c.repeatedToolCall, concurrent, held),
          c.repeatedToolCall.action,
          false,
        )
      }
      if (c.toolCycle.enabled) {
        consider(
          pick,
          detectToolCycle(calls, now, c.toolCycle, concurrent, held, agent.capMicros),
          c.toolCycle.action,
          false,
        )
      }
    }
    if (observation.kind === 'tool_call' && c.slowLoop.enabled) {
      // By shape, unless the scope's calls overlap (concurrency is not a loop); and by
      // identical arguments, whatever the concurrency: workers that each do new work never
      // repeat one exact call among 8 different ones, parallel loops do.
      const { tool } = observation
      const shapes = Math.min(c.slowLoop.normalizedMaxDistinct, c.slowLoop.maxDistinct)
      const shaped = state
        .loops(runId)
        .call(tool, event.shape ?? '', now, c.slowLoop, concurrent, shapes)
      const exact = state.loops(runId, true).call(tool, event.hash ?? '', now, c.slowLoop)
      if (runId !== undefined) {
        exact.runId = runId
        shaped.runId = runId
      }
      consider(
        pick,
        detectSlowLoop(exact, agent.capMicros, c.slowLoop, now),
        c.slowLoop.action,
        false,
      )
      consider(
        pick,
        detectSlowLoop(shaped, agent.capMicros, c.slowLoop, now),
        c.slowLoop.action,
        false,
      )
    }
    if (isCall && c.callRate.enabled) {
      const calls = kind === 'model_call' ? state.modelCalls : state.toolCalls
      consider(pick, detectCallRate(calls.sum(now), kind, c.callRate), c.callRate.action, false)
    }
    if (isCall && run) {
      consider(pick, detectRunLimits(run, now, c.runLimits), c.runLimits.action, false)
    }
    const spends = kind === 'model_result' || kind === 'payment'
    const velocity = c.spendVelocity
    if (velocity.enabled && (spends || (before && holds(velocity.action)))) {
      // A call's re-check is skipped when the last judgement found no trip on what it reads
      // (state-clear.ts): the same window and spend, in the same ms, less what left it.
      const version = state.spend.version
      if (!(isCall && state.spendClear.covers(window, start, end, now, velocity, version))) {
        const spent = state.spendScan.judge(window, now, velocity, end, start)
        const spike = detectSpendSpike(state.spend.read(now), velocity)
        consider(pick, spent, velocity.action, !spends)
        consider(pick, spike, velocity.action, !spends)
        if (spent.status !== 'trip' && spike.status !== 'trip') {
          state.spendClear.record(window, start, end, now, velocity, version)
        }
      }
    }
    const progress = c.noProgress
    if (progress.enabled && (kind === 'model_result' || (before && holds(progress.action)))) {
      // A run whose model calls overlap is a map over inputs, not a loop's steps.
      const overlapping = concurrent || (runId !== undefined && state.flows.concurrent(runId, now))
      consider(
        pick,
        detectNoProgress(window, now, progress, end, start, overlapping),
        progress.action,
        kind !== 'model_result',
      )
    }
    const streak = c.errorStreak
    // A success ends the streak, and the half-open state of its throttle with it.
    if ((kind === 'model_result' || kind === 'tool_result') && event.ok !== false) {
      state.streakOpen = false
    }
    const failed = kind === 'error' || kind === 'tool_result'
    if (streak.enabled && (failed || (before && holds(streak.action)))) {
      // The streak is the agent's, and so is the throttle it starts: failures before that
      // throttle ended were answered by it and never trip it again by themselves (the first
      // call after it is a probe: error-streak.ts). The boundary is state the judgement reads.
      const held = heldUntil(state, undefined)
      // Half-open only after a throttle that held: a trip that throttled nothing (warn-only
      // or not enforced) left every later call tripping while its failures stayed in the
      // window. Skipped as the spend re-check is: a call's event neither breaks nor extends
      // a streak.
      const open = state.streakOpen && held !== Number.NEGATIVE_INFINITY
      if (!(isCall && !open && state.streakClear.covers(window, start, end, now, streak, held))) {
        const streaked = detectErrorStreak(window, now, streak, end, start, held, open)
        if (streaked.status === 'trip') state.streakOpen = true
        consider(pick, streaked, streak.action, !failed)
        if (streaked.status !== 'trip')
          state.streakClear.record(window, start, end, now, streak, held)
      }
    }
    if (c.thresholdBreach.enabled && (before || kind === 'model_result')) {
      consider(
        pick,
        detectThresholdBreach(agent, c.thresholdBreach),
        c.thresholdBreach.action,
        false,
      )
    }

    let { finding, action } = pick
    if (!finding) return none(c)
    // A refused call will never run: it is not in flight.
    if (isCall && c.enforce && action !== 'warn')
      state.flows.ended(
        observation.kind === 'tool_call' ? observation.tool : undefined,
        runId,
        false,
      )
    if (action === 'warn') warned.set(`${agent.handle}\u0000${finding.detector}`, now)
    if (action === 'block') {
      // In shadow mode the throttle is reported but not kept: nothing is refused.
      const scope = typeof finding.evidence?.runId === 'string' ? finding.evidence.runId : ''
      const retryAfterMs = c.enforce
        ? state.throttle(scope, now, finding, c.throttle)
        : c.throttle.retryAfterMs
      finding = {
        ...finding,
        summary: `${finding.summary ?? finding.detector}; throttled, retry after ${formatDuration(retryAfterMs)}`,
        evidence: { ...finding.evidence, retryAfterMs, throttledUntil: now + retryAfterMs },
      }
    }
    if (c.recordArguments && observation.kind === 'tool_call') {
      const args = recordedArguments(observation.args)
      finding = { ...finding, evidence: { ...finding.evidence, arguments: args } }
    }
    return { action, finding, enforced: c.enforce }
  }

  /** Keeps `finding` if it asks for more than the strongest so far (a warning at most once a while). */
  function consider(
    pick: Pick,
    finding: DetectorFinding,
    action: RunawayAction,
    tripOnly: boolean,
  ): void {
    if (finding.status === 'ok' || (tripOnly && finding.status !== 'trip')) return
    const wanted = finding.status === 'trip' ? (finding.action ?? action) : 'warn'
    if (SEVERITY[wanted] <= SEVERITY[pick.action]) return
    if (wanted === 'warn' && recentlyWarned(pick.handle, finding.detector, pick.now)) return
    pick.finding = finding
    pick.action = wanted
  }

  /**
   * A chain's failure that follows a model, tool or payment failure within ECHO_MS is that
   * same failure bubbling up (LangChain reports one failed call once per enclosing chain):
   * counting it again would trip the error streak several times too early. A chain failure
   * on its own still counts.
   */
  function isEcho(handle: string, observation: Observation, now: number): boolean {
    const failed =
      observation.kind === 'error' || (observation.kind === 'tool_result' && !observation.ok)
    if (!failed) return false
    const last = lastFailure.get(handle)
    if (last === undefined && lastFailure.size >= MAX_TRACKED_AGENTS) lastFailure.clear()
    lastFailure.set(handle, now)
    const chain = observation.kind === 'error' && observation.source === 'chain'
    return chain && last !== undefined && now >= last && now - last <= ECHO_MS
  }

  function recentlyWarned(handle: string, detector: string, now: number): boolean {
    const key = `${handle}\u0000${detector}`
    const at = warned.get(key)
    if (at !== undefined && now - at < warnIntervalMs) return true
    if (at === undefined && warned.size >= MAX_TRACKED_AGENTS) warned.clear()
    return false
  }
}

/**
 * When the last throttle over a call of run `runId` ends (or ended): the agent's or the run's,
 * whichever is later; before any, minus infinity. Idle before it was the throttle's wait, and
 * failures before it were answered by it.
 */
function heldUntil(state: AgentState, runId: string | undefined): number {
  if (state.throttles.size === 0) return Number.NEGATIVE_INFINITY
  return Math.max(
    state.throttles.get('')?.until ?? Number.NEGATIVE_INFINITY,
    (runId !== undefined && state.throttles.get(runId)?.until) || Number.NEGATIVE_INFINITY,
  )
}

/**
 * The refusal of a call while a throttle lasts: the finding that started it, with how long
 * is left. Marked `held` so that it is audited as a refusal but not alerted again.
 */
function throttledVerdict(
  throttle: { until: number; finding: DetectorFinding },
  now: number,
): RunawayVerdict {
  const retryAfterMs = throttle.until - now
  const { detector, evidence } = throttle.finding
  return {
    action: 'block',
    enforced: true,
    finding: {
      detector,
      status: 'trip',
      summary: `throttled by ${detector} for ${formatDuration(retryAfterMs)} more`,
      evidence: { ...evidence, held: true, retryAfterMs, throttledUntil: throttle.until },
    },
  }
}

/**
 * What the store keeps of an observation: names, hashes and amounts, never argument values.
 * A tool call's argument hashes are what the loop detectors compare, so they are computed
 * even when a detector cannot fire yet: another process may read them from the shared window.
 * Every event has the same fields in the same order (undefined where they do not apply):
 * one object shape keeps the detectors' scans over the window monomorphic, hence fast.
 */
function toActivityEvent(
  observation: Observation,
  at: number,
  config: ResolvedRunawayConfig,
): RunawayEvent {
  let kind: RunawayEvent['kind'] = 'spend'
  let tool: string | undefined
  let hash: string | undefined
  let shape: string | undefined
  let micros: number | undefined
  let ok: boolean | undefined
  switch (observation.kind) {
    case 'model_call':
      kind = 'model_call'
      break
    case 'model_result':
      kind = 'model_result'
      // No-progress compares outputs within one run. Repeated-tool-call reads the answers of
      // a scope without runs, whose new answers separate its repeats (a worker's tickets),
      // hashed with the shape of the user's ask they answer (`answerHash`). With both off the
      // output is never compared, so it is not hashed (the guard hashes lazily).
      if (observation.runId !== undefined) {
        if (config.noProgress.enabled) hash = observation.outputHash
      } else if (config.repeatedToolCall.enabled) {
        hash = observation.answerHash ?? observation.outputHash
      }
      micros = observation.costMicros
      ok = true
      break
    case 'tool_call':
      kind = 'tool_call'
      tool = observation.tool
      hash = canonicalHash(observation.args)
      shape = shapeHash(observation.args)
      break
    case 'tool_result':
      kind = 'tool_result'
      tool = observation.tool
      ok = observation.ok
      break
    case 'error':
      kind = 'error'
      ok = false
      break
    case 'payment':
      micros = observation.costMicros
      break
  }
  return { at, kind, runId: observation.runId, tool, hash, micros, ok, shape }
}

/**
 * Whether a state detector's trip is re-checked at later calls: a `block` refuses calls
 * while the state lasts (a circuit breaker) and a `stop` ends every run that calls meanwhile.
 * A `revoke` has already revoked the agent everywhere, and a warning was already given, at
 * the event that changed the state: re-checking them would only repeat it, at a cost.
 */
function holds(action: RunawayAction): boolean {
  return action === 'block' || action === 'stop'
}

function usesWindow(c: ResolvedRunawayConfig): boolean {
  return (
    c.repeatedToolCall.enabled ||
    c.toolCycle.enabled ||
    c.noProgress.enabled ||
    c.spendVelocity.enabled ||
    c.errorStreak.enabled
  )
}

function isSameEvent(a: RunawayEvent | undefined, b: RunawayEvent): boolean {
  return (
    a !== undefined &&
    (a === b || (a.at === b.at && a.kind === b.kind && a.tool === b.tool && a.hash === b.hash))
  )
}

function recordedArguments(args: unknown): string {
  const text = canonicalJson(args)
  return text.length > MAX_RECORDED_ARGUMENTS
    ? `${text.slice(0, MAX_RECORDED_ARGUMENTS)}... (${text.length} characters)`
    : text
}
