import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toUsd } from '../../money.js'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, spend } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectSpendVelocity, SpendVelocityScan } from './spend-velocity.js'

const T0 = 1_700_000_000_000
const usd = (dollars: number) => Math.round(dollars * 1_000_000)

/** One step of a store's life: events appended (by this process or others), then judged. */
const step = fc.record({
  events: fc.array(
    fc.record({
      kind: fc.constantFrom('model_call', 'model_result', 'spend', 'error'),
      // Mostly forward in time; now and then behind (another process's clock).
      dt: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
        { weight: 1, arbitrary: fc.integer({ min: -8_000, max: 0 }) },
      ),
      dollars: fc.constantFrom(0, 0.5, 1, 3, 9),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  // How the window comes back: a copy of the store's events (sqlite's mirror), parsed
  // afresh (Redis without a mirror: new objects), or the store's own array with bounds (the
  // memory store: appended to, and replaced by a copy of its end past twice the window).
  shape: fc.constantFrom('slice', 'fresh', 'live'),
  // The results judged before the call, each at the window as it stood at its event.
  judgedAt: fc.integer({ min: 0, max: 4 }),
  later: fc.integer({ min: 0, max: 3_000 }),
})

describe('SpendVelocityScan', () => {
  it('finds exactly what detectSpendVelocity finds, as an append-only window moves', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(10_000, 60_000),
        (steps, keep, windowMs) => {
          const config = { ...DEFAULT_RUNAWAY_CONFIG.spendVelocity, windowMs }
          const scan = new SpendVelocityScan()
          const stored: ActivityEvent[] = []
          let log: ActivityEvent[] = []
          let clock = T0
          let now = T0
          for (const { events, shape, judgedAt, later } of steps) {
            const batch = events.map(({ kind, dt, dollars }): ActivityEvent => {
              clock += dt
              const micros = usd(dollars)
              return kind === 'model_result'
                ? modelResult(clock, { micros })
                : kind === 'spend'
                  ? spend(clock, micros)
                  : kind === 'error'
                    ? { at: clock, kind: 'error', ok: false }
                    : modelCall(clock)
            })
            stored.push(...batch)
            if (stored.length > keep) stored.splice(0, stored.length - keep)
            if (log.length + batch.length > keep * 2)
              log = log.slice(Math.max(0, log.length - keep))
            log.push(...batch)
            const live = shape === 'live'
            const window = live
              ? log
              : shape === 'fresh'
                ? stored.map((event) => ({ ...event }))
                : stored.slice()
            const start = live ? Math.max(0, log.length - keep) : 0
            now = Math.max(now, clock) + later
            // Each of the batch's events judged in order, then the whole window.
            const last = window.length
            const first = Math.max(start + 1, last - Math.min(judgedAt, events.length - 1))
            for (let end = first; end <= last; end++) {
              const expected = detectSpendVelocity(window.slice(start, end), now, config)
              expect(scan.judge(window, now, config, end, start)).toEqual(expected)
              expect(detectSpendVelocity(window, now, config, end, start)).toEqual(expected)
              // The sum itself, not only the status it gives: warned from $0, the detector's
              // evidence says what it summed.
              const zero = { ...config, warnUsd: 0 }
              const all = detectSpendVelocity(window.slice(start, end), now, zero)
              expect(toUsd(scan.spentMicros)).toBe(all.evidence?.spentUsd)
            }
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('keeps trips and warnings, with their evidence, as the window slides', () => {
    const config = DEFAULT_RUNAWAY_CONFIG.spendVelocity
    const scan = new SpendVelocityScan()
    const stored: ActivityEvent[] = []
    const statuses: string[] = []
    // $2 a call, one every 4 s: $30 a minute at full pace; then the agent stops spending.
    for (let i = 0; i < 60; i++) {
      const at = T0 + i * 4_000
      stored.push(modelCall(at), modelResult(at + 1_000, { micros: usd(i < 30 ? 2 : 0) }))
      if (stored.length > 256) stored.splice(0, stored.length - 256)
      const finding = scan.judge(stored.slice(), at + 1_000, config)
      expect(finding).toEqual(detectSpendVelocity(stored, at + 1_000, config))
      statuses.push(finding.status)
    }
    expect(statuses.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'warn'])
    expect(statuses).toContain('trip')
    expect(statuses.at(-1)).toBe('ok')
  })
})
