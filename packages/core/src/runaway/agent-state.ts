// What one process keeps per agent for runaway detection, beside the shared activity window:
// call and spend rates (O(1) counters) and the throttles in force. Bounded: when more agents
// than `maxAgents` are tracked the map is cleared (a forgotten agent starts counting again,
// which errs towards letting it through, never towards a false trip).
import { SlowLoopTracker } from './detectors/slow-loop.js'
import { RateWindow } from './rate-window.js'
import type { ResolvedRunawayConfig } from './runaway-defaults.js'
import { SpendHistory } from './spend-history.js'
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
  /** Tool calls without a result yet, by tool and run: concurrency is not a loop. */
  readonly #inFlight = new Map<string, { count: number; at: number }>()
  /**
   * Tools whose results this process has seen. Some adapters report only the call (the AI
   * SDK middleware sees the model's tool calls, not their execution): for those tools the
   * count of calls in flight would only grow, so it is not used.
   */
  readonly #reported = new Set<string>()
  readonly #loops = new Map<string, SlowLoopTracker>()

  constructor(config: ResolvedRunawayConfig) {
    this.modelCalls = new RateWindow(config.callRate.windowMs)
    this.toolCalls = new RateWindow(config.callRate.windowMs)
    this.spend = new SpendHistory(config.spendVelocity.windowMs, config.spendVelocity.historyMs)
  }

  /**
   * Records a tool call starting; returns how many others of the same tool and run were in
   * flight (0 for a tool whose results are never reported). Counts untouched for `staleMs`
   * are dropped (a call whose result never came).
   */
  callStarted(tool: string, runId: string | undefined, now: number, staleMs: number): number {
    const key = `${tool}\u0000${runId ?? ''}`
    const entry = this.#inFlight.get(key)
    if (!entry || now - entry.at > staleMs) {
      if (this.#inFlight.size >= MAX_SCOPES) this.#inFlight.clear()
      this.#inFlight.set(key, { count: 1, at: now })
      return 0
    }
    entry.at = now
    const others = entry.count++
    return this.#reported.has(tool) ? others : 0
  }

  /** Records a tool call ending: its result (`reported`), or its refusal. */
  callEnded(tool: string, runId: string | undefined, now: number, reported: boolean): void {
    if (reported && !this.#reported.has(tool) && this.#reported.size < MAX_SCOPES)
      this.#reported.add(tool)
    const key = `${tool}\u0000${runId ?? ''}`
    const entry = this.#inFlight.get(key)
    if (!entry) return
    entry.at = now
    if (--entry.count <= 0) this.#inFlight.delete(key)
  }

  /** The slow-loop tracker of a scope ('' for the agent, else the run id). */
  loops(runId: string | undefined): SlowLoopTracker {
    const scope = runId ?? ''
    let tracker = this.#loops.get(scope)
    if (!tracker) {
      if (this.#loops.size >= MAX_SCOPES) this.#loops.clear()
      tracker = new SlowLoopTracker()
      this.#loops.set(scope, tracker)
    }
    return tracker
  }

  /**
   * An event other than a tool call, for slow-loop: a new step in the run's tracker and the
   * agent's, and its spend in both.
   */
  stepIn(runId: string | undefined, micros: number): void {
    const agent = this.loops(undefined)
    agent.step()
    if (micros > 0) agent.spent(micros)
    const run = runId === undefined ? undefined : this.#loops.get(runId)
    run?.step()
    if (micros > 0) run?.spent(micros)
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

/** Throttled runs one agent keeps before ended throttles are forgotten. */
const MAX_SCOPES = 1_000

/** Process-local state of every agent this monitor has seen. */
export class AgentStates {
  readonly #agents = new Map<string, AgentState>()
  readonly #maxAgents: number

  constructor(maxAgents = 10_000) {
    this.#maxAgents = Math.max(1, maxAgents)
  }

  of(handle: string, config: ResolvedRunawayConfig): AgentState {
    let state = this.#agents.get(handle)
    if (!state) {
      if (this.#agents.size >= this.#maxAgents) this.#agents.clear()
      state = new AgentState(config)
      this.#agents.set(handle, state)
    }
    return state
  }
}
