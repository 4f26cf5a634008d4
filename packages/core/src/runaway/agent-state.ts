// What one process keeps per agent for runaway detection, beside the shared activity window:
// call and spend rates (O(1) counters) and the throttles in force. Bounded: when more agents
// than `maxAgents` are tracked the map is cleared (a forgotten agent starts counting again,
// which errs towards letting it through, never towards a false trip).
import { Concurrency } from './concurrency.js'
import { RunStreak } from './detectors/repeated-run.js'
import { SlowLoopTracker } from './detectors/slow-loop.js'
import { SpendVelocityScan } from './detectors/spend-velocity.js'
import { RateWindow } from './rate-window.js'
import type { ResolvedRunawayConfig } from './runaway-defaults.js'
import { SpendHistory } from './spend-history.js'
import { StateClear } from './state-clear.js'
import type { DetectorFinding } from './types.js'

/** A throttle in force over a scope (the agent, or one of its runs). */
export interface Throttle {
  until: number
  /** Rungs climbed: the retry-after is `retryAfterMs * 2^level`. */
  level: number
  finding: DetectorFinding
}

/** One agent's process-local runaway state. */
export class AgentState {
  readonly modelCalls: RateWindow
  readonly toolCalls: RateWindow
  readonly spend: SpendHistory
  /** By scope: '' for the agent, else the run id. */
  readonly throttles = new Map<string, Throttle>()
  /** Calls in flight and when they last overlapped: concurrency is not a loop. */
  readonly flows = new Concurrency()
  /** Spend velocity over the shared window, read once per window and instant. */
  readonly spendScan = new SpendVelocityScan()
  /** The last spend and error-streak judgements that found no trip (state-clear.ts). */
  readonly spendClear = new StateClear()
  readonly streakClear = new StateClear()
  /** The error streak tripped and no success came since: its next failure trips it again. */
  streakOpen = false
  /** Whole runs repeated one after another (a loop that starts a new run each lap). */
  readonly runs = new RunStreak()
  readonly #loops = new Map<string, SlowLoopTracker>()
  readonly #exactLoops = new Map<string, SlowLoopTracker>()
  #agentShaped: SlowLoopTracker | undefined
  #agentExact: SlowLoopTracker | undefined

  constructor(config: ResolvedRunawayConfig) {
    this.modelCalls = new RateWindow(config.callRate.windowMs)
    this.toolCalls = new RateWindow(config.callRate.windowMs)
    this.spend = new SpendHistory(config.spendVelocity.windowMs, config.spendVelocity.historyMs)
  }

  /**
   * The slow-loop tracker of a scope ('' for the agent, else the run id): by argument shape,
   * or (`exact`) by identical arguments.
   */
  loops(runId: string | undefined, exact = false): SlowLoopTracker {
    const scope = runId ?? ''
    // The agent's own pair is kept apart, at hand: every event steps it (`stepIn`).
    if (scope === '') {
      if (exact) {
        this.#agentExact ??= new SlowLoopTracker()
        return this.#agentExact
      }
      this.#agentShaped ??= new SlowLoopTracker()
      return this.#agentShaped
    }
    const trackers = exact ? this.#exactLoops : this.#loops
    let tracker = trackers.get(scope)
    if (!tracker) {
      if (trackers.size >= MAX_SCOPES) trackers.clear()
      tracker = new SlowLoopTracker()
      trackers.set(scope, tracker)
    }
    return tracker
  }

  /**
   * An event other than a tool call, for slow-loop: a new step in the run's tracker and the
   * agent's, and its spend in both (`model`: a model result's, counted only if a call follows).
   */
  stepIn(runId: string | undefined, micros: number, model = false): void {
    stepScope(this.loops(undefined), micros, model)
    stepScope(this.loops(undefined, true), micros, model)
    if (runId === undefined) return
    stepScope(this.#loops.get(runId), micros, model)
    stepScope(this.#exactLoops.get(runId), micros, model)
  }

  /** The throttle in force for a call of run `runId` at `now`, if any. */
  throttledAt(runId: string | undefined, now: number): Throttle | undefined {
    if (this.throttles.size === 0) return undefined
    const agentWide = this.throttles.get('')
    if (agentWide && now < agentWide.until) return agentWide
    const run = runId === undefined ? undefined : this.throttles.get(runId)
    return run && now < run.until ? run : undefined
  }

  /**
   * Starts (or escalates) a throttle over `scope`: a trip soon after the last one ended
   * doubles the retry-after, up to the maximum. Returns the retry-after in milliseconds.
   */
  throttle(
    scope: string,
    now: number,
    finding: DetectorFinding,
    config: ResolvedRunawayConfig['throttle'],
  ): number {
    const previous = this.throttles.get(scope)
    const level = previous && now - previous.until < config.resetAfterMs ? previous.level + 1 : 0
    const retryAfterMs = Math.min(config.maxRetryAfterMs, config.retryAfterMs * 2 ** level)
    this.throttles.set(scope, { until: now + retryAfterMs, level, finding })
    if (this.throttles.size > MAX_SCOPES) this.#forgetEnded(now)
    return retryAfterMs
  }

  #forgetEnded(now: number): void {
    for (const [scope, throttle] of this.throttles) {
      if (now - throttle.until >= 0) this.throttles.delete(scope)
    }
  }
}

function stepScope(tracker: SlowLoopTracker | undefined, micros: number, model: boolean): void {
  if (!tracker) return
  tracker.step()
  if (model) tracker.answered(micros)
  else if (micros > 0) tracker.spent(micros)
}

/** Throttled runs one agent keeps before ended throttles are forgotten. */
const MAX_SCOPES = 1_000

/** Process-local state of every agent this monitor has seen. */
export class AgentStates {
  readonly #agents = new Map<string, AgentState>()
  readonly #maxAgents: number
  #lastHandle: string | undefined
  #last: AgentState | undefined

  constructor(maxAgents = 10_000) {
    this.#maxAgents = Math.max(1, maxAgents)
  }

  of(handle: string, config: ResolvedRunawayConfig): AgentState {
    // The same agent, mostly: a call asks for its state four or five times.
    if (handle === this.#lastHandle && this.#last) return this.#last
    let state = this.#agents.get(handle)
    if (!state) {
      if (this.#agents.size >= this.#maxAgents) this.#agents.clear()
      state = new AgentState(config)
      this.#agents.set(handle, state)
    }
    this.#lastHandle = handle
    this.#last = state
    return state
  }
}
