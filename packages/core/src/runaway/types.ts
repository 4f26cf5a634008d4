// The contract between the guard and runaway detection. The guard reports what an agent
// does (observations); the monitor answers with a verdict; the guard carries it out.

import type { ActivityEvent, AgentRecord } from '../store.js'

/** What each detector may do when it trips, mildest first. */
export type RunawayAction = 'warn' | 'block' | 'stop' | 'revoke'

/** What the guard observed. `runId` groups the calls of one agent run, when the adapter knows it. */
export type Observation =
  | { kind: 'model_call'; runId?: string; model: string }
  | {
      kind: 'model_result'
      runId?: string
      model: string
      costMicros: number
      /** Hash of the model's output (text and tool-call plan), for no-progress detection. */
      outputHash?: string
      /**
       * Hash of the output with the shape of the user's latest ask (`shape-hash.ts`): the same
       * label for two different tickets differs, the same answer to a question asked again
       * with a counter in it does not. Repeated-tool-call reads it where no run id groups calls.
       */
      answerHash?: string
    }
  | { kind: 'tool_call'; runId?: string; tool: string; args: unknown }
  | { kind: 'tool_result'; runId?: string; tool: string; ok: boolean }
  | { kind: 'error'; runId?: string; source: 'model' | 'tool' | 'chain' | 'payment' }
  | { kind: 'payment'; runId?: string; costMicros: number; payee: string }

/**
 * An activity event as the monitor writes it: the store's fields, plus for a tool call the
 * shape of its arguments (`shape-hash.ts`). Stores keep every field as given (memory) or as
 * JSON (sqlite, Redis), so the extra field needs nothing of them.
 */
export type RunawayEvent = ActivityEvent & { shape?: string }

/** One detector's reading. */
export interface DetectorFinding {
  detector: string
  status: 'ok' | 'warn' | 'trip'
  /**
   * The action this trip asks for when it is not the detector's configured `action`: a
   * detector with two grades of evidence (identical arguments, or only similar ones) names
   * the gentler one here.
   */
  action?: RunawayAction
  /** One line for people, e.g. `search called 5 times with the same arguments`. */
  summary?: string
  /** Thresholds and the calls that tripped it (tool names, argument hashes: never values). */
  evidence?: Record<string, unknown>
}

/** The monitor's answer for one observation. */
export interface RunawayVerdict {
  /** The strongest action any detector asks for; `none` when all are ok. */
  action: 'none' | RunawayAction
  /** The finding that decided the action. */
  finding?: DetectorFinding
  /** False in shadow mode: the action is recorded as "would have", not carried out. */
  enforced: boolean
}

/** Watches an agent's activity. The guard calls `observe` on every guarded event. */
export interface RunawayMonitor {
  /**
   * Judges an observation. With `recorded`, the observation's event was already written to
   * the agent's shared window in another store round trip (the reserve of its hold): that
   * window, ending with the event, is judged instead of writing it again.
   */
  observe(
    agent: AgentRecord,
    observation: Observation,
    now: number,
    recorded?: readonly ActivityEvent[],
  ): Promise<RunawayVerdict>
  /**
   * `observe` of an observation whose event is `recorded[end - 1]` (written by a ledger
   * operation), judged against `recorded[start..end)` at once: no store round trip, no copy
   * of the window. The guard judges the results that rode on a call's reserve, then the
   * call, this way. Optional: without it the guard calls `observe` with a copy of the window.
   */
  judge?(
    agent: AgentRecord,
    observation: Observation,
    now: number,
    recorded: readonly ActivityEvent[],
    end?: number,
    start?: number,
  ): RunawayVerdict
  /**
   * The event `observe` would write to the shared window for this observation, and the
   * window's size; undefined when detection keeps no window for this agent.
   */
  activity?(
    agent: AgentRecord,
    observation: Observation,
    now: number,
  ): { event: ActivityEvent; keep: number } | undefined
  /** For a call: the verdict of a throttle in force for its scope (a refusal), if any. */
  throttled?(agent: AgentRecord, runId: string | undefined, now: number): RunawayVerdict | undefined
}

export const NO_RUNAWAY: RunawayVerdict = Object.freeze({
  action: 'none',
  enforced: true,
}) as RunawayVerdict

/**
 * The monitor of `createKillSwitch({ runaway: false })`: it judges nothing, so the guard skips
 * it outright (no window, no verdict awaited on every call).
 */
export const NO_MONITOR: RunawayMonitor = Object.freeze({ observe: async () => NO_RUNAWAY })
