// Per-agent runaway settings as users write them (agents.create / agents.update `runaway`).
// Every field is optional: what is left out takes the defaults in `runaway-defaults.ts` at
// the moment of use, so an agent created today picks up better defaults in a later release
// instead of freezing today's numbers into its stored policy. Messages name what is allowed;
// the zod issue path names the field (e.g. `runaway.repeatedToolCall.tripAt`).
import { z } from 'zod'
import { MAX_CAP_USD } from '../money.js'
import { DEFAULT_RUNAWAY_CONFIG, HISTORY_SLOTS } from './runaway-defaults.js'

const ACTIONS = ['warn', 'block', 'stop', 'revoke'] as const

const wholeNumber = (min: number, max: number, what: string) => {
  const message = `must be a whole number of ${what} from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`
  return z
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message })
}

const fraction = (example: string) => {
  const message = `must be a fraction above 0 and at most 1 (e.g. ${example}; not a percentage)`
  return z.number({ error: message }).gt(0, { error: message }).lte(1, { error: message })
}

const dollars = z
  .number({ error: 'must be a number of dollars above 0 (e.g. 25)' })
  .gt(0, { error: 'must be a number of dollars above 0 (e.g. 25)' })
  .lte(MAX_CAP_USD, { error: `must be at most $${MAX_CAP_USD.toLocaleString('en-US')}` })

const windowMs = wholeNumber(1_000, 86_400_000, 'milliseconds (1 second to 24 hours)')
const action = z.enum(ACTIONS, {
  error: "must be one of 'warn', 'block', 'stop', 'revoke' (mildest first)",
})
const enabled = z.boolean({ error: 'must be true or false' })

/** A strict object whose unknown-key message lists what is allowed. */
function detector<Shape extends z.ZodRawShape>(shape: Shape) {
  const allowed = Object.keys(shape)
    .map((key) => `"${key}"`)
    .join(', ')
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown option; allowed: ${allowed}` : undefined,
  })
}

const countsPair = <T extends { warnAt?: number; tripAt?: number }>(
  value: T,
  ctx: z.RefinementCtx,
) => {
  if (value.warnAt !== undefined && value.tripAt !== undefined && value.warnAt > value.tripAt) {
    ctx.addIssue({
      code: 'custom',
      path: ['warnAt'],
      message: `must be at most tripAt (${value.tripAt}): the warning comes before the trip`,
    })
  }
}

/** The similar-arguments tier of a loop detector: its own pair of counts and action. */
const normalizedPair = <T extends { normalizedWarnAt?: number; normalizedTripAt?: number }>(
  value: T,
  ctx: z.RefinementCtx,
) => {
  const { normalizedWarnAt: warnAt, normalizedTripAt: tripAt } = value
  if (warnAt !== undefined && tripAt !== undefined && warnAt > tripAt) {
    ctx.addIssue({
      code: 'custom',
      path: ['normalizedWarnAt'],
      message: `must be at most normalizedTripAt (${tripAt}): the warning comes before the trip`,
    })
  }
}

const repeatedToolCallSchema = detector({
  enabled: enabled.optional(),
  warnAt: wholeNumber(2, 1_000, 'identical calls').optional(),
  tripAt: wholeNumber(2, 1_000, 'identical calls').optional(),
  withinCalls: wholeNumber(2, 1_000, 'tool calls').optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
  normalizedWarnAt: wholeNumber(2, 1_000, 'similar calls').optional(),
  normalizedTripAt: wholeNumber(2, 1_000, 'similar calls').optional(),
  normalizedAction: action.optional(),
})
  .superRefine(countsPair)
  .superRefine(normalizedPair)

const toolCycleSchema = detector({
  enabled: enabled.optional(),
  maxPeriod: wholeNumber(2, 8, 'calls per cycle').optional(),
  normalizedMaxPeriod: wholeNumber(2, 8, 'calls per cycle').optional(),
  warnAt: wholeNumber(2, 100, 'repetitions').optional(),
  tripAt: wholeNumber(2, 100, 'repetitions').optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
  normalizedWarnAt: wholeNumber(2, 100, 'repetitions').optional(),
  normalizedTripAt: wholeNumber(2, 100, 'repetitions').optional(),
  normalizedAction: action.optional(),
})
  .superRefine(countsPair)
  .superRefine(normalizedPair)

const noProgressSchema = detector({
  enabled: enabled.optional(),
  warnAt: wholeNumber(2, 1_000, 'identical outputs').optional(),
  tripAt: wholeNumber(2, 1_000, 'identical outputs').optional(),
  withinResults: wholeNumber(2, 1_000, 'model results').optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
}).superRefine(countsPair)

const spendVelocitySchema = detector({
  enabled: enabled.optional(),
  warnUsd: dollars.optional(),
  tripUsd: dollars.optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
  spikeRatio: z
    .number({ error: 'must be a number from 2 to 1,000 (times the usual spend)' })
    .min(2, { error: 'must be a number from 2 to 1,000 (times the usual spend)' })
    .max(1_000, { error: 'must be a number from 2 to 1,000 (times the usual spend)' })
    .optional(),
  spikeMinUsd: dollars.optional(),
  spikeWarmupMs: wholeNumber(0, 604_800_000, 'milliseconds (up to 7 days)').optional(),
  historyMs: wholeNumber(60_000, 604_800_000, 'milliseconds (1 minute to 7 days)').optional(),
}).superRefine((value, ctx) => {
  if (value.warnUsd !== undefined && value.tripUsd !== undefined && value.warnUsd > value.tripUsd) {
    ctx.addIssue({
      code: 'custom',
      path: ['warnUsd'],
      message: `must be at most tripUsd ($${value.tripUsd}): the warning comes before the trip`,
    })
  }
})

const callRateSchema = detector({
  enabled: enabled.optional(),
  warnModelCalls: wholeNumber(1, 10_000, 'model calls').optional(),
  tripModelCalls: wholeNumber(1, 10_000, 'model calls').optional(),
  warnToolCalls: wholeNumber(1, 10_000, 'tool calls').optional(),
  tripToolCalls: wholeNumber(1, 10_000, 'tool calls').optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
})

const errorStreakSchema = detector({
  enabled: enabled.optional(),
  warnAt: wholeNumber(1, 1_000, 'consecutive failures').optional(),
  tripAt: wholeNumber(1, 1_000, 'consecutive failures').optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
}).superRefine(countsPair)

const slowLoopSchema = detector({
  enabled: enabled.optional(),
  tripAt: wholeNumber(2, 1_000, 'calls of the same shape').optional(),
  maxDistinct: wholeNumber(1, 16, 'different calls').optional(),
  normalizedMaxDistinct: wholeNumber(1, 16, 'different shapes').optional(),
  capFraction: fraction('0.03 to act once the loop has spent 3% of the cap').optional(),
  windowMs: windowMs.optional(),
  action: action.optional(),
})

const throttleSchema = detector({
  retryAfterMs: wholeNumber(100, 3_600_000, 'milliseconds (0.1 s to 1 hour)').optional(),
  maxRetryAfterMs: wholeNumber(100, 86_400_000, 'milliseconds (0.1 s to 24 hours)').optional(),
  resetAfterMs: wholeNumber(1_000, 86_400_000, 'milliseconds (1 second to 24 hours)').optional(),
})

const runLimitsSchema = detector({
  enabled: enabled.optional(),
  maxModelCalls: wholeNumber(1, 1_000_000, 'model calls per run').optional(),
  maxToolCalls: wholeNumber(1, 1_000_000, 'tool calls per run').optional(),
  maxDurationMs: wholeNumber(1_000, 604_800_000, 'milliseconds (1 second to 7 days)').optional(),
  warnFraction: fraction('0.8 to warn at 80% of each limit').optional(),
  action: action.optional(),
})

const thresholdBreachSchema = detector({
  enabled: enabled.optional(),
  fraction: fraction('0.9 to act once 90% of the cap is spent').optional(),
  action: action.optional(),
})

const topLevel = detector({
  enforce: enabled.optional(),
  recordArguments: enabled.optional(),
  historySize: wholeNumber(16, 4_096, 'events').optional(),
  repeatedToolCall: repeatedToolCallSchema.optional(),
  toolCycle: toolCycleSchema.optional(),
  noProgress: noProgressSchema.optional(),
  spendVelocity: spendVelocitySchema.optional(),
  callRate: callRateSchema.optional(),
  errorStreak: errorStreakSchema.optional(),
  slowLoop: slowLoopSchema.optional(),
  throttle: throttleSchema.optional(),
  runLimits: runLimitsSchema.optional(),
  thresholdBreach: thresholdBreachSchema.optional(),
})

/**
 * The runaway settings of one agent (`agents.create({ ..., runaway })`). Every field is
 * optional; the defaults are on without configuration. A detector's count thresholds must
 * fit in `historySize` (the events kept per agent), or the detector could never see them:
 * such a setting is refused with the size it needs.
 *
 * @example
 * runawayConfigSchema.parse({
 *   enforce: false, // shadow mode: record what would have happened, block nothing
 *   repeatedToolCall: { tripAt: 8, action: 'block' },
 *   spendVelocity: { tripUsd: 100, windowMs: 60_000 },
 *   thresholdBreach: { enabled: true, fraction: 0.9 },
 * })
 */
export const runawayConfigSchema = topLevel.superRefine((value, ctx) => {
  const history = value.historySize ?? DEFAULT_RUNAWAY_CONFIG.historySize
  // Each check: [detector, field, slots each counted event needs, effective value, enabled].
  const d = DEFAULT_RUNAWAY_CONFIG
  const checks: Array<[string, string, number, number, boolean]> = [
    [
      'repeatedToolCall',
      'tripAt',
      HISTORY_SLOTS.perStep,
      value.repeatedToolCall?.tripAt ?? d.repeatedToolCall.tripAt,
      value.repeatedToolCall?.enabled ?? d.repeatedToolCall.enabled,
    ],
    [
      'toolCycle',
      'tripAt',
      HISTORY_SLOTS.perStep * (value.toolCycle?.maxPeriod ?? d.toolCycle.maxPeriod),
      value.toolCycle?.tripAt ?? d.toolCycle.tripAt,
      value.toolCycle?.enabled ?? d.toolCycle.enabled,
    ],
    [
      'repeatedToolCall',
      'normalizedTripAt',
      HISTORY_SLOTS.perStep,
      value.repeatedToolCall?.normalizedTripAt ?? d.repeatedToolCall.normalizedTripAt,
      value.repeatedToolCall?.enabled ?? d.repeatedToolCall.enabled,
    ],
    [
      'toolCycle',
      'normalizedTripAt',
      HISTORY_SLOTS.perStep *
        Math.min(
          value.toolCycle?.normalizedMaxPeriod ?? d.toolCycle.normalizedMaxPeriod,
          value.toolCycle?.maxPeriod ?? d.toolCycle.maxPeriod,
        ),
      value.toolCycle?.normalizedTripAt ?? d.toolCycle.normalizedTripAt,
      value.toolCycle?.enabled ?? d.toolCycle.enabled,
    ],
    [
      'noProgress',
      'tripAt',
      HISTORY_SLOTS.perStep,
      value.noProgress?.tripAt ?? d.noProgress.tripAt,
      value.noProgress?.enabled ?? d.noProgress.enabled,
    ],
    [
      'errorStreak',
      'tripAt',
      HISTORY_SLOTS.perCall,
      value.errorStreak?.tripAt ?? d.errorStreak.tripAt,
      value.errorStreak?.enabled ?? d.errorStreak.enabled,
    ],
  ]
  for (const [name, field, slots, threshold, on] of checks) {
    if (!on || threshold * slots <= history) continue
    const given = (value as Record<string, Record<string, unknown> | undefined>)[name]?.[field]
    ctx.addIssue({
      code: 'custom',
      // Blame the field the user set; when they only changed historySize, blame that.
      path: given === undefined ? ['historySize'] : [name, field],
      message:
        given === undefined
          ? `must be at least ${threshold * slots} so that ${name}.${field} (${threshold}) fits in the events kept per agent`
          : `must be at most ${Math.floor(history / slots)} with historySize ${history} (each counted event needs ${slots} slots of history); lower it or raise historySize to at least ${threshold * slots}`,
    })
  }
})

/** Per-agent runaway settings as written by users; every field optional, safe defaults apply. */
export type RunawayConfig = z.infer<typeof runawayConfigSchema>

/**
 * The runaway actions, mildest first: each rung of the escalation ladder.
 *
 * @example
 * RUNAWAY_ACTIONS.includes('revoke') // true: warn, block, stop, revoke
 */
export const RUNAWAY_ACTIONS = ACTIONS
