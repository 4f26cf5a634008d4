// The runaway defaults: on without configuration, tuned so that the incident this project
// exists for ($4,000 of API calls in 11 minutes, about $6 a second) trips within seconds,
// while a long agent run that keeps making progress never does. docs/runaway.md explains
// each number. A trip revokes by default (the brief: a runaway must stop, everywhere); the
// one exception is the per-run limits, whose natural scope is the run, so they stop it.

import type { RunawayAction } from './types.js'

/** Every setting filled in: what the detectors actually use. */
export interface ResolvedRunawayConfig {
  /** False = shadow mode: verdicts are computed and returned with `enforced: false`. */
  enforce: boolean
  /** Put the tripping call's arguments (canonical JSON) in the evidence. Off: hashes only. */
  recordArguments: boolean
  /** Activity events kept per agent in the store (the detectors' shared window). */
  historySize: number
  repeatedToolCall: {
    enabled: boolean
    warnAt: number
    tripAt: number
    /** Among the agent's (or run's) last this-many tool calls. */
    withinCalls: number
    windowMs: number
    action: RunawayAction
  }
  toolCycle: {
    enabled: boolean
    /** Longest cycle looked for: 4 finds A-B, A-B-C and A-B-C-D. */
    maxPeriod: number
    /** Back-to-back repetitions of the whole cycle. */
    warnAt: number
    tripAt: number
    windowMs: number
    action: RunawayAction
  }
  noProgress: {
    enabled: boolean
    warnAt: number
    tripAt: number
    withinResults: number
    windowMs: number
    action: RunawayAction
  }
  spendVelocity: {
    enabled: boolean
    warnUsd: number
    tripUsd: number
    windowMs: number
    action: RunawayAction
  }
  callRate: {
    enabled: boolean
    warnModelCalls: number
    tripModelCalls: number
    warnToolCalls: number
    tripToolCalls: number
    windowMs: number
    action: RunawayAction
  }
  errorStreak: {
    enabled: boolean
    warnAt: number
    tripAt: number
    windowMs: number
    action: RunawayAction
  }
  runLimits: {
    enabled: boolean
    maxModelCalls: number
    maxToolCalls: number
    maxDurationMs: number
    warnFraction: number
    action: RunawayAction
  }
  thresholdBreach: {
    enabled: boolean
    fraction: number
    action: RunawayAction
  }
}

/** History slots one counted event needs: a call and its result; a whole agent step. */
export const HISTORY_SLOTS = Object.freeze({ perCall: 2, perStep: 4 })

const MINUTE = 60_000

/**
 * The defaults every agent gets for what its `runaway` policy leaves out.
 *
 * @example
 * DEFAULT_RUNAWAY_CONFIG.repeatedToolCall.tripAt // 5
 */
export const DEFAULT_RUNAWAY_CONFIG: ResolvedRunawayConfig = deepFreeze({
  enforce: true,
  recordArguments: false,
  historySize: 256,
  // Gemini CLI stops at 5 identical tool calls; another project warns at 3 and stops at 5.
  repeatedToolCall: {
    enabled: true,
    warnAt: 3,
    tripAt: 5,
    withinCalls: 20,
    windowMs: 10 * MINUTE,
    action: 'revoke',
  },
  // OpenHands calls A-B-A-B-A-B (three repetitions) stuck.
  toolCycle: {
    enabled: true,
    maxPeriod: 4,
    warnAt: 2,
    tripAt: 3,
    windowMs: 10 * MINUTE,
    action: 'revoke',
  },
  noProgress: {
    enabled: true,
    warnAt: 3,
    tripAt: 5,
    withinResults: 10,
    windowMs: 10 * MINUTE,
    action: 'revoke',
  },
  // $25 a minute is over $1,000 an hour: far above one agent doing honest work, far below
  // the incident's $364 a minute (which reaches $25 in about 4 seconds).
  spendVelocity: { enabled: true, warnUsd: 10, tripUsd: 25, windowMs: MINUTE, action: 'revoke' },
  // 5 model calls a second sustained for 10 seconds: no sequential agent gets there.
  callRate: {
    enabled: true,
    warnModelCalls: 25,
    tripModelCalls: 50,
    warnToolCalls: 50,
    tripToolCalls: 100,
    windowMs: 10_000,
    action: 'revoke',
  },
  // A success resets the streak, so a flaky call that recovers never gets near 10.
  errorStreak: { enabled: true, warnAt: 3, tripAt: 10, windowMs: 10 * MINUTE, action: 'revoke' },
  // Framework defaults stop far earlier (OpenAI Agents max_turns 10, LangGraph 25): these
  // only catch a run nobody bounded.
  runLimits: {
    enabled: true,
    maxModelCalls: 200,
    maxToolCalls: 500,
    maxDurationMs: 60 * MINUTE,
    warnFraction: 0.8,
    action: 'stop',
  },
  // Off by default: threshold alerts already notify; this one acts.
  thresholdBreach: { enabled: false, fraction: 0.9, action: 'revoke' },
})

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (inner !== null && typeof inner === 'object') deepFreeze(inner)
  }
  return Object.freeze(value)
}
