import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import type { AgentPolicy } from '../policy.js'
import type { ActivityEvent } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import type { RunawayConfig } from './config.js'
import { createRunawayMonitor } from './create-runaway-monitor.js'
import { detectErrorStreak } from './detectors/error-streak.js'
import { detectSpendSpike } from './detectors/spend-spike.js'
import { detectSpendVelocity, SpendVelocityScan } from './detectors/spend-velocity.js'
import { resolveRunawayConfig } from './resolve-runaway-config.js'
import { SpendHistory } from './spend-history.js'
import { StateClear } from './state-clear.js'
import type { Observation } from './types.js'

const T0 = 1_700_000_000_000

// The state detectors alone (spend velocity and spike, error streak), with thresholds a few
// events reach, in shadow mode: a trip is reported on every call it concerns (no throttle
// is kept to answer for it).
const RUNAWAY: RunawayConfig = {
  enforce: false,
  repeatedToolCall: { enabled: false },
  toolCycle: { enabled: false },
  noProgress: { enabled: false },
  callRate: { enabled: false },
  slowLoop: { enabled: false },
  runLimits: { enabled: false },
  errorStreak: { warnAt: 2, tripAt: 3, windowMs: 8_000, action: 'block' },
  spendVelocity: {
    warnUsd: 1,
    tripUsd: 2,
    windowMs: 10_000,
    action: 'block',
    spikeRatio: 3,
    spikeMinUsd: 0.5,
    spikeWarmupMs: 20_000,
    historyMs: 60_000,
  },
}

/** One reserve: the results and failures it carries, then its call. */
const step = fc.record({
  // A result's cost in dollars, or a failure.
  carried: fc.array(fc.constantFrom(0, 0.05, 0.3, 0.9, 1.4, 'error' as const), { maxLength: 3 }),
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6_000 })),
  // The call judged in the results' ms (its re-checks may be skipped) or a ms later.
  callLater: fc.boolean(),
  // The window handed back anew between the results and the call (another array).
  copied: fc.boolean(),
})

/** Events each judgement reads (the store's `keep`): small, so that the front moves. */
const KEEP = 6

describe('StateClear', () => {
  it("covers a call's window only: the same array, one event on, no earlier start, ms, config and version", () => {
    const event: ActivityEvent = { at: T0, kind: 'model_call' }
    const window: ActivityEvent[] = [event, event, event, event]
    const config = {}
    const clear = new StateClear()
    const recorded = () => clear.record(window, 1, 3, T0, config, 7)
    recorded()
    expect(clear.covers([...window], 1, 4, T0, config, 7)).toBe(false)
    expect(clear.covers(window, 1, 3, T0, config, 7)).toBe(false)
    expect(clear.covers(window, 1, 5, T0, config, 7)).toBe(false)
    expect(clear.covers(window, 0, 4, T0, config, 7)).toBe(false)
    expect(clear.covers(window, 1, 4, T0 + 1, config, 7)).toBe(false)
    expect(clear.covers(window, 1, 4, T0, {}, 7)).toBe(false)
    expect(clear.covers(window, 1, 4, T0, config, 8)).toBe(false)
    // Covered: the front may have moved on; the covered window is the last judged in turn.
    expect(clear.covers(window, 2, 4, T0, config, 7)).toBe(true)
    expect(clear.covers(window, 2, 4, T0, config, 7)).toBe(false)
    window.push(event)
    expect(clear.covers(window, 2, 5, T0, config, 7)).toBe(true)
  })

  it('skips the spend re-check of each call in a burst after the judged result', async () => {
    const store = memoryStore()
    const policy: AgentPolicy = { alerts: [], runaway: RUNAWAY }
    const agent = await store.createAgent({
      handle: 'burst',
      credentialHash: 'd'.repeat(64),
      capMicros: 1e12,
      currency: 'usd',
      createdAt: T0,
      updatedAt: T0,
      policy,
    })
    const monitor = createRunawayMonitor(store)
    const judge = monitor.judge as NonNullable<typeof monitor.judge>
    const scans = vi.spyOn(SpendVelocityScan.prototype, 'judge')
    try {
      const event = (observation: Observation) =>
        monitor.activity?.(agent, observation, T0)?.event as ActivityEvent
      const result: Observation = { kind: 'model_result', model: 'm', costMicros: 10_000 }
      const call: Observation = { kind: 'model_call', model: 'm' }
      // One reserve carries a result and its call, then five reserves a call each (a pool),
      // all in one ms, the front moving as the memory store's does.
      const window = [event(result), event(call)]
      expect(judge(agent, result, T0, window, 1, 0).action).toBe('none')
      expect(judge(agent, call, T0, window, 2, 0).action).toBe('none')
      for (let i = 0; i < 5; i++) {
        window.push(event(call))
        const start = Math.max(0, window.length - KEEP)
        expect(judge(agent, call, T0, window, window.length, start).action).toBe('none')
      }
      // The result's judgement read the spend; every call after it was covered.
      expect(scans).toHaveBeenCalledTimes(1)
      // A ms later, the next call reads it again.
      window.push(event(call))
      judge(agent, call, T0 + 1, window, window.length, Math.max(0, window.length - KEEP))
      expect(scans).toHaveBeenCalledTimes(2)
    } finally {
      scans.mockRestore()
    }
  })

  it("a call's state verdict is the detectors' own, whether or not its re-checks were skipped", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const store = memoryStore()
        const policy: AgentPolicy = { alerts: [], runaway: RUNAWAY }
        const agent = await store.createAgent({
          handle: 'spender',
          credentialHash: 'e'.repeat(64),
          capMicros: 1e12,
          currency: 'usd',
          createdAt: T0,
          updatedAt: T0,
          policy,
        })
        const monitor = createRunawayMonitor(store)
        const judge = monitor.judge as NonNullable<typeof monitor.judge>
        const config = resolveRunawayConfig(RUNAWAY)
        const velocity = config.spendVelocity
        // What the monitor keeps in this process, kept again here by the definition.
        const history = new SpendHistory(velocity.windowMs, velocity.historyMs)
        let window: ActivityEvent[] = []
        let now = T0
        for (const { carried, gapMs, callLater, copied } of steps) {
          now += gapMs
          const observations: Observation[] = [
            ...carried.map(
              (item): Observation =>
                item === 'error'
                  ? { kind: 'error', source: 'model' }
                  : { kind: 'model_result', model: 'm', costMicros: Math.round(item * 1e6) },
            ),
            { kind: 'model_call', model: 'm' },
          ]
          const first = window.length
          for (const observation of observations) {
            window.push(monitor.activity?.(agent, observation, now)?.event as ActivityEvent)
          }
          // As the memory store hands it: the whole batch judged from one start.
          const start = Math.max(0, window.length - KEEP)
          for (const [i, observation] of observations.entries()) {
            const end = first + i + 1
            if (observation.kind !== 'model_call') {
              if (observation.kind === 'model_result' && observation.costMicros > 0) {
                history.add(now, observation.costMicros)
              }
              judge(agent, observation, now, window, end, start)
              continue
            }
            if (copied) window = [...window]
            const at = callLater ? now + 1 : now
            const verdict = judge(agent, observation, at, window, end, start)
            const trips =
              detectSpendVelocity(window, at, velocity, end, start).status === 'trip' ||
              detectSpendSpike(history.read(at), velocity).status === 'trip' ||
              detectErrorStreak(window, at, config.errorStreak, end, start).status === 'trip'
            expect(verdict.action).toBe(trips ? 'block' : 'none')
          }
        }
      }),
      {
        numRuns: 200,
        // Found by this property: a trip that throttled nothing (enforce off) left the next
        // call tripping as a failed probe of a throttle that never was.
        examples: [
          [
            [
              { carried: ['error'], gapMs: 0, callLater: false, copied: false },
              { carried: ['error'], gapMs: 1, callLater: false, copied: false },
              { carried: ['error'], gapMs: 0, callLater: false, copied: false },
              { carried: [], gapMs: 1, callLater: false, copied: false },
            ],
          ],
        ],
      },
    )
  })
})
