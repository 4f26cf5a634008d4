import { describe, expect, it } from 'vitest'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { shapeHash } from '../shape-hash.js'
import { detectSlowLoop, SlowLoopTracker } from './slow-loop.js'

const config = DEFAULT_RUNAWAY_CONFIG.slowLoop
const T0 = 1_700_000_000_000
const CAP = 20_000_000
const MINUTE = 60_000

/**
 * Laps every `everyMs`: a model step costing `modelMicros`, then a call of `enrich` with
 * `args(lap)`, paid `paidMicros`. Returns the status at each call.
 */
function laps(
  count: number,
  everyMs: number,
  modelMicros: number,
  args: (lap: number) => unknown,
  paidMicros = 0,
) {
  const tracker = new SlowLoopTracker()
  return Array.from({ length: count }, (_, lap) => {
    const at = T0 + lap * everyMs
    tracker.step()
    tracker.spent(modelMicros)
    const reading = tracker.call('enrich', shapeHash(args(lap)), at, config)
    tracker.spent(paidMicros)
    return detectSlowLoop(reading, CAP, config, at)
  })
}

describe('detectSlowLoop', () => {
  it('trips at the 5th paid lap every 4 minutes once 3% of the cap is spent since the first', () => {
    const findings = laps(5, 4 * MINUTE, 300_000, () => ({ domain: 'acme.com' }), 50_000)
    expect(findings.map((finding) => finding.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'trip'])
    expect(findings[4]?.evidence).toMatchObject({ count: 5, distinctCalls: 1, spentUsd: 1.4 })
  })

  it('never trips on free polling, however long', () => {
    const findings = laps(500, 30_000, 0, () => ({ jobId: 'job-1' }))
    expect(findings.every((finding) => finding.status === 'ok')).toBe(true)
  })

  it('judges by shape: a counter in the arguments is the same call', () => {
    const findings = laps(5, 4 * MINUTE, 300_000, (lap) => ({ domain: 'acme.com', attempt: lap }))
    expect(findings[4]?.status).toBe('trip')
  })

  it('starts a new stretch when the work moves on (more than maxDistinct different calls)', () => {
    const tracker = new SlowLoopTracker()
    let status = 'ok'
    for (let lap = 0; lap < 20; lap++) {
      const at = T0 + lap * 4 * MINUTE
      tracker.step()
      tracker.spent(500_000)
      tracker.call(`tool_${lap}`, 'x', at, config)
      const reading = tracker.call('read_notes', shapeHash({ path: 'notes.md' }), at + 10, config)
      if (detectSlowLoop(reading, CAP, config, at).status !== 'ok') status = 'trip'
    }
    expect(status).toBe('ok')
  })

  it('trips on a slow cycle of 5 to 8 identical paid calls, not on one repeated call amid new ones', () => {
    const cycle = (tools: number) => {
      const tracker = new SlowLoopTracker()
      const statuses: string[] = []
      for (let lap = 0; lap < 5; lap++) {
        tracker.step()
        tracker.spent(150_000)
        for (let t = 0; t < tools; t++) {
          const at = T0 + lap * 3 * MINUTE + t * 5_000
          const reading = tracker.call(`tool_${t}`, 'same-args', at, config)
          tracker.spent(20_000)
          statuses.push(detectSlowLoop(reading, CAP, config, at).status)
        }
      }
      return statuses
    }
    for (const tools of [5, 8]) {
      expect(cycle(tools).indexOf('trip')).toBe(4 * tools)
    }
    expect(cycle(9)).not.toContain('trip')
    // 4 different shapes at most: a 5th starts a new stretch (pagination over 5 sources).
    const tracker = new SlowLoopTracker()
    let status = 'ok'
    for (let lap = 0; lap < 8; lap++) {
      tracker.step()
      tracker.spent(500_000)
      for (let t = 0; t < 5; t++) {
        const reading = tracker.call(
          `source_${t}`,
          'page-shape',
          T0 + lap * MINUTE,
          config,
          false,
          4,
        )
        if (detectSlowLoop(reading, CAP, config, T0 + lap * MINUTE).status !== 'ok') status = 'trip'
      }
    }
    expect(status).toBe('ok')
  })

  it('counts only the spend of the loop: its paid calls and the model step asking for each', () => {
    // A chat answering every 30 s ($0.03 a turn) beside an hourly cache refresh: 6 hours.
    const chat = new SlowLoopTracker()
    const statuses: string[] = []
    for (let hour = 0; hour < 6; hour++) {
      const at = T0 + hour * 60 * MINUTE
      const reading = chat.call('refresh_cache', shapeHash({ key: 'pricing' }), at, config)
      statuses.push(detectSlowLoop(reading, CAP, config, at).status)
      for (let turn = 0; turn < 120; turn++) {
        chat.step()
        chat.answered(30_000)
      }
    }
    expect(statuses.every((status) => status === 'ok')).toBe(true)
    // The same step, each model result followed by the call it asked for: the loop's spend.
    const loop = new SlowLoopTracker()
    const findings = Array.from({ length: 5 }, (_, lap) => {
      const at = T0 + lap * 4 * MINUTE
      loop.step()
      loop.answered(300_000)
      const reading = loop.call('enrich', shapeHash({ domain: 'acme.com' }), at, config)
      loop.spent(50_000)
      return detectSlowLoop(reading, CAP, config, at)
    })
    expect(findings[4]).toMatchObject({ status: 'trip', evidence: { spentUsd: 1.4 } })
  })

  it('counts the calls of one step once, and not those made alongside others in flight', () => {
    const tracker = new SlowLoopTracker()
    for (let n = 0; n < 6; n++) tracker.call('fetch', 'k', T0 + n, config)
    expect(tracker.call('fetch', 'k', T0 + 10, config).count).toBe(1)
    tracker.step()
    expect(tracker.call('fetch', 'k', T0 + 20, config, true).count).toBe(1)
    tracker.step()
    expect(tracker.call('fetch', 'k', T0 + 30, config).count).toBe(2)
  })

  it('forgets calls older than windowMs, and does nothing without a cap', () => {
    const tracker = new SlowLoopTracker()
    let last = tracker.call('t', 'k', T0, config)
    for (let lap = 1; lap < 10; lap++) {
      tracker.step()
      tracker.spent(5_000_000)
      last = tracker.call('t', 'k', T0 + lap * 60 * MINUTE, config)
    }
    // Each call is an hour after the last: the 6-hour window holds at most 6 (restarts at 7).
    expect(last.count).toBe(3)
    expect(detectSlowLoop(last, 0, config, T0).status).toBe('ok')
  })
})
