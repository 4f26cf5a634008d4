import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type RunawayConfig, runawayConfigSchema } from './config.js'
import { resolveRunawayConfig } from './resolve-runaway-config.js'
import { DEFAULT_RUNAWAY_CONFIG } from './runaway-defaults.js'

/** The first issue as `path: message`, the way the kill switch reports it. */
function firstIssue(value: unknown): string {
  const result = runawayConfigSchema.safeParse(value)
  if (result.success) return 'valid'
  const issue = result.error.issues[0]
  return `${issue?.path.join('.')}: ${issue?.message}`
}

describe('runawayConfigSchema', () => {
  it('accepts nothing at all, and the full defaults', () => {
    expect(runawayConfigSchema.parse({})).toEqual({})
    expect(runawayConfigSchema.safeParse(DEFAULT_RUNAWAY_CONFIG).success).toBe(true)
  })

  it('does not fill in defaults (they apply at use, so later releases can improve them)', () => {
    expect(runawayConfigSchema.parse({ repeatedToolCall: { tripAt: 8 } })).toEqual({
      repeatedToolCall: { tripAt: 8 },
    })
  })

  it('names the field and what is allowed', () => {
    expect(firstIssue({ repeatedToolCall: { tripAt: 2.5 } })).toBe(
      'repeatedToolCall.tripAt: must be a whole number of identical calls from 2 to 1,000',
    )
    expect(firstIssue({ spendVelocity: { tripUsd: -1 } })).toBe(
      'spendVelocity.tripUsd: must be a number of dollars above 0 (e.g. 25)',
    )
    expect(firstIssue({ callRate: { action: 'kill' } })).toBe(
      "callRate.action: must be one of 'warn', 'block', 'stop', 'revoke' (mildest first)",
    )
    expect(firstIssue({ thresholdBreach: { enabled: true, fraction: 90 } })).toContain(
      'thresholdBreach.fraction: must be a fraction above 0 and at most 1',
    )
    expect(firstIssue({ enforce: 'no' })).toBe('enforce: must be true or false')
    expect(firstIssue({ errorStreak: { windowMs: 10 } })).toBe(
      'errorStreak.windowMs: must be a whole number of milliseconds (1 second to 24 hours) from 1,000 to 86,400,000',
    )
  })

  it('refuses unknown options, listing the allowed ones', () => {
    const message = firstIssue({ repeatedToolCall: { tripAfter: 3 } })
    expect(message).toContain(
      'repeatedToolCall: unknown option; allowed: "enabled", "warnAt", "tripAt"',
    )
    expect(firstIssue({ loopDetection: true })).toContain('unknown option; allowed: "enforce"')
  })

  it('refuses a warning level above the trip level', () => {
    expect(firstIssue({ noProgress: { warnAt: 6, tripAt: 4 } })).toBe(
      'noProgress.warnAt: must be at most tripAt (4): the warning comes before the trip',
    )
    expect(firstIssue({ spendVelocity: { warnUsd: 50, tripUsd: 20 } })).toContain(
      'spendVelocity.warnUsd',
    )
  })

  it('refuses thresholds the history window could never hold, naming the size needed', () => {
    expect(firstIssue({ repeatedToolCall: { tripAt: 100, normalizedTripAt: 100 } })).toBe(
      'repeatedToolCall.tripAt: must be at most 64 with historySize 256 (each counted event needs 4 slots of history); lower it or raise historySize to at least 400',
    )
    expect(
      firstIssue({ historySize: 1000, repeatedToolCall: { tripAt: 100, normalizedTripAt: 100 } }),
    ).toBe('valid')
    expect(firstIssue({ historySize: 32 })).toBe(
      'historySize: must be at least 96 so that toolCycle.tripAt (3) fits in the events kept per agent',
    )
    const loopsOff = { repeatedToolCall: { enabled: false }, toolCycle: { enabled: false } }
    expect(firstIssue({ historySize: 32, ...loopsOff })).toBe('valid')
  })
})

describe('resolveRunawayConfig', () => {
  it('gives the defaults for no settings', () => {
    expect(resolveRunawayConfig(undefined)).toBe(DEFAULT_RUNAWAY_CONFIG)
    expect(resolveRunawayConfig({})).toBe(DEFAULT_RUNAWAY_CONFIG)
  })

  it('overrides only what is given', () => {
    const resolved = resolveRunawayConfig({
      enforce: false,
      repeatedToolCall: { tripAt: 8, action: 'block' },
    })
    expect(resolved.enforce).toBe(false)
    expect(resolved.repeatedToolCall).toEqual({
      ...DEFAULT_RUNAWAY_CONFIG.repeatedToolCall,
      tripAt: 8,
      action: 'block',
    })
    expect(resolved.toolCycle).toEqual(DEFAULT_RUNAWAY_CONFIG.toolCycle)
  })

  it('resolves equal settings to the same object (cached for the hot path)', () => {
    const a = resolveRunawayConfig({ callRate: { tripModelCalls: 40 } })
    expect(resolveRunawayConfig({ callRate: { tripModelCalls: 40 } })).toBe(a)
  })

  it('tells apart settings that differ anywhere, whatever was resolved last', () => {
    const settings = fc.dictionary(
      fc.constantFrom('callRate', 'errorStreak', 'spendVelocity'),
      fc.dictionary(
        fc.constantFrom('enabled', 'warnAt', 'tripAt', 'tripUsd'),
        fc.oneof(fc.boolean(), fc.integer({ min: 1, max: 4 })),
        { maxKeys: 2 },
      ),
      { maxKeys: 2 },
    )
    const expected = (value: Record<string, object>) => ({
      ...DEFAULT_RUNAWAY_CONFIG,
      ...Object.fromEntries(
        Object.entries(value).map(([section, given]) => [
          section,
          {
            ...DEFAULT_RUNAWAY_CONFIG[section as 'callRate'],
            // Unknown fields are ignored.
            ...Object.fromEntries(
              Object.entries(given).filter(
                ([key]) => key in DEFAULT_RUNAWAY_CONFIG[section as 'callRate'],
              ),
            ),
          },
        ]),
      ),
    })
    fc.assert(
      fc.property(settings, settings, (a, b) => {
        // Fresh copies each time, as a durable store parses them.
        const copy = (value: object) => JSON.parse(JSON.stringify(value)) as RunawayConfig
        expect(resolveRunawayConfig(copy(a))).toEqual(expected(a))
        expect(resolveRunawayConfig(copy(b))).toEqual(expected(b))
        expect(resolveRunawayConfig(copy(a))).toEqual(expected(a))
        // And the same objects again, taking turns (agents of one process): each its own.
        const [kept, other] = [copy(a), copy(b)]
        for (let turn = 0; turn < 2; turn++) {
          expect(resolveRunawayConfig(kept)).toEqual(expected(a))
          expect(resolveRunawayConfig(other)).toEqual(expected(b))
          expect(resolveRunawayConfig(copy(b))).toEqual(expected(b))
        }
      }),
      { numRuns: 300 },
    )
  })
})
