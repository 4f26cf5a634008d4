// The runaway defaults: on without configuration, and chosen on the trace corpus
// (`corpus/`, `npm run bench`): no honest trace is refused, every runaway trace is stopped
// before it spends 10% of its cap or runs a minute. docs/runaway.md gives each number its
// corpus figure. Actions are graded: identical loops revoke (evidence beyond doubt); rate
// signals and similar-but-not-identical calls throttle (a refusal with a retry-after that
// doubles while it persists); per-run limits stop the run.

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
    /** Calls with similar arguments (same shape: only numbers, ids, case, order differ). */
    normalizedWarnAt: number
    normalizedTripAt: number
    normalizedAction: RunawayAction
  }
  toolCycle: {
    enabled: boolean
    /** Longest cycle of identical calls looked for: 8 finds A-B up to A-B-C-D-E-F-G-H. */
    maxPeriod: number
    /** Longest cycle of similar calls (same shapes) looked for (at most `maxPeriod`). */
    normalizedMaxPeriod: number
    /** Back-to-back repetitions of the whole cycle. */
    warnAt: number
    tripAt: number
    windowMs: number
    action: RunawayAction
    /** Laps of a cycle whose calls only have the same shapes. */
    normalizedWarnAt: number
    normalizedTripAt: number
    normalizedAction: RunawayAction
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
    /** Against the agent's own history: trips at this many times its usual spend per window. */
    spikeRatio: number
    /** ...and never below this many dollars per window. */
    spikeMinUsd: number
    /** History needed before the agent has a "usual". */
    spikeWarmupMs: number
    /** How far back "usual" looks (the decay time of the average). */
    historyMs: number
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
  slowLoop: {
    enabled: boolean
    /** Calls of the same shape... */
    tripAt: number
    /** ...among at most this many different calls (identical arguments)... */
    maxDistinct: number
    /** ...or this many different shapes, counted by shape (at most `maxDistinct`)... */
    normalizedMaxDistinct: number
    /** ...having spent this fraction of the cap since the first of them. */
    capFraction: number
    windowMs: number
    action: RunawayAction
  }
  /** How a `block` refuses: for `retryAfterMs`, doubled at each trip while it persists. */
  throttle: {
    retryAfterMs: number
    maxRetryAfterMs: number
    /** A trip this long after the last throttle ended starts again from `retryAfterMs`. */
    resetAfterMs: number
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
  // Identical arguments 5 times in a minute: Gemini CLI stops at 5 identical tool calls.
  // The minute spares polling (every 30 s is 2 in a window); similar arguments need 10
  // sequential calls in a minute (a counter loop at agent speed; honest pagination that
  // fast is throttled, not revoked: docs/runaway.md).
  repeatedToolCall: {
    enabled: true,
    warnAt: 3,
    tripAt: 5,
    withinCalls: 20,
    windowMs: MINUTE,
    action: 'revoke',
    normalizedWarnAt: 6,
    normalizedTripAt: 10,
    normalizedAction: 'block',
  },
  // OpenHands calls A-B-A-B-A-B (three repetitions) stuck; with similar arguments, 4 laps.
  // Identical cycles of up to 8 calls (a loop over 5 paid tools spent a whole $20 cap under
  // 4); similar ones up to 4, as pagination over several sources in turn is a long cycle of
  // shapes.
  toolCycle: {
    enabled: true,
    maxPeriod: 8,
    normalizedMaxPeriod: 4,
    warnAt: 2,
    tripAt: 3,
    windowMs: MINUTE,
    action: 'revoke',
    normalizedWarnAt: 3,
    normalizedTripAt: 4,
    normalizedAction: 'block',
  },
  // Judged per run only: the same answer to many requests is a classifier, not a loop.
  noProgress: {
    enabled: true,
    warnAt: 3,
    tripAt: 5,
    withinResults: 10,
    windowMs: 10 * MINUTE,
    action: 'revoke',
  },
  // $25 a minute is over $1,000 an hour: far above one agent doing honest work, far below
  // the incident's $364 a minute (which reaches $25 in about 4 seconds). And 10 times the
  // agent's own usual rate (at least $2 a minute, after 10 minutes of history).
  spendVelocity: {
    enabled: true,
    warnUsd: 10,
    tripUsd: 25,
    windowMs: MINUTE,
    action: 'block',
    spikeRatio: 10,
    spikeMinUsd: 2,
    spikeWarmupMs: 10 * MINUTE,
    historyMs: 30 * MINUTE,
  },
  // A rate is not a loop: 5,000 calls in 10 s (500 a second, what the largest provider rate
  // tiers allow a cheap model) is far above a fan-out of hundreds or a busy agent at 20 calls
  // a second, and the action is a throttle. At 1,000, a LangChain batch of 1,200 cheap
  // classifications at concurrency 50 (100 a second) was throttled (red team r14).
  callRate: {
    enabled: true,
    warnModelCalls: 2_500,
    tripModelCalls: 5_000,
    warnToolCalls: 2_500,
    tripToolCalls: 5_000,
    windowMs: 10_000,
    action: 'block',
  },
  // 10 failures in a minute with no success: a retry storm. A client backing off
  // exponentially through an outage makes at most 7 (1, 2, 4, ... s, then every 30-60 s).
  errorStreak: { enabled: true, warnAt: 5, tripAt: 10, windowMs: MINUTE, action: 'block' },
  // A loop too slow for the one-minute windows is judged by what it costs: 5 identical calls
  // among at most 8 different ones (or 5 of one shape among 4 shapes), having spent 3% of
  // the cap since the first.
  slowLoop: {
    enabled: true,
    tripAt: 5,
    maxDistinct: 8,
    normalizedMaxDistinct: 4,
    capFraction: 0.03,
    windowMs: 6 * 60 * MINUTE,
    action: 'block',
  },
  throttle: { retryAfterMs: 5_000, maxRetryAfterMs: 15 * MINUTE, resetAfterMs: 10 * MINUTE },
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
