import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { failure, modelCall, modelResult, toolCall, toolResult } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectErrorStreak } from './error-streak.js'

const config = DEFAULT_RUNAWAY_CONFIG.errorStreak
const T0 = 1_700_000_000_000

/** A model call that fails, `n` times: what a provider erroring in a retry loop looks like. */
const failedCalls = (n: number, start = T0) =>
  Array.from({ length: n }, (_, i) => [
    modelCall(start + i * 1000),
    failure(start + i * 1000 + 100),
  ]).flat()

const judge = (window: ActivityEvent[], options = config) =>
  detectErrorStreak(window, (window[window.length - 1] as ActivityEvent).at, options)

describe('detectErrorStreak', () => {
  it('warns from warnAt and trips exactly at tripAt consecutive failures', () => {
    expect(judge(failedCalls(4)).status).toBe('ok')
    expect(judge(failedCalls(5)).status).toBe('warn')
    expect(judge(failedCalls(9)).status).toBe('warn')
    expect(judge(failedCalls(10))).toMatchObject({
      status: 'trip',
      evidence: { failures: 10, tripAt: 10 },
    })
  })

  it('counts failed tool results, with the tools in evidence', () => {
    const window = Array.from({ length: 10 }, (_, i) => [
      toolCall(T0 + i * 100, 'paid_search', { q: i }),
      toolResult(T0 + i * 100 + 50, 'paid_search', false),
    ]).flat()
    const finding = judge(window)
    expect(finding.status).toBe('trip')
    expect(finding.evidence?.failed).toContainEqual(
      expect.objectContaining({ tool: 'paid_search' }),
    )
  })

  it('resets on a success: a retry that succeeds never trips', () => {
    const window = [
      ...failedCalls(9),
      modelResult(T0 + 9_500, { micros: 10 }),
      ...failedCalls(9, T0 + 10_000),
    ]
    expect(judge(window).status).toBe('warn')
    for (let i = 0; i < 50; i++) {
      window.push(
        ...failedCalls(2, T0 + 20_000 + i * 3_000),
        toolResult(T0 + 22_500 + i * 3_000, 'fetch', true),
      )
      expect(judge(window).status).toBe('ok')
    }
  })

  it('counts the failures of calls made together once: a 429 on a parallel batch is one burst', () => {
    // 50 calls in flight, every one answered 429 within 200 ms of the others.
    const burst = (start: number, size = 50) => [
      ...Array.from({ length: size }, (_, i) => modelCall(start + i)),
      ...Array.from({ length: size }, (_, i) => failure(start + 300 + i * 4)),
    ]
    expect(judge(burst(T0))).toMatchObject({ status: 'ok' })
    // Their retries failing together again, burst after burst, make a streak of bursts.
    const storm = Array.from({ length: 10 }, (_, k) => burst(T0 + k * 1_000, 8)).flat()
    expect(judge(storm)).toMatchObject({ status: 'trip', evidence: { failures: 10 } })
    // Failures with no call between them but seconds apart (a chain failing on its own) are
    // no burst: each counts.
    const apart = Array.from({ length: 10 }, (_, i) => failure(T0 + i * 3_000))
    expect(judge(apart).status).toBe('trip')
  })

  it('does not let a call in flight break the streak', () => {
    const window = [...failedCalls(10), modelCall(T0 + 20_000)]
    expect(judge(window).status).toBe('trip')
  })

  it('never trips on retries that back off through a 10-minute outage', () => {
    const window = []
    let at = T0
    let delay = 1_000
    while (at < T0 + 600_000) {
      window.push(modelCall(at), failure(at + 200))
      expect(detectErrorStreak(window, at + 200, config).status).not.toBe('trip')
      at += 200 + delay
      delay = Math.min(delay * 2, 60_000)
    }
    expect(window.length).toBeGreaterThan(20)
  })

  it('forgets failures older than windowMs', () => {
    expect(judge(failedCalls(10), { ...config, windowMs: 5_000 }).status).toBe('warn')
  })

  it('never trips again on a streak a throttle answered: only a failure since it ended does (half-open)', () => {
    // 10 failures trip; the throttle refuses calls for 5 s after the 10th.
    const storm = failedCalls(10)
    const heldUntil = T0 + 9_100 + 5_000
    const at = (window: ActivityEvent[]) => (window.at(-1) as ActivityEvent).at
    const judgeHeld = (window: ActivityEvent[]) =>
      detectErrorStreak(window, at(window), config, window.length, 0, heldUntil)
    // The storm's tail: a call made before the throttle, failing while it lasts.
    const tail = [...storm, failure(T0 + 9_400)]
    expect(judge(tail).status).toBe('trip')
    expect(judgeHeld(tail)).toMatchObject({ status: 'ok' })
    // After it, the same old failures, judged at call after call: never a trip (nor a warning).
    const probes = [...tail]
    for (let i = 0; i < 20; i++) {
      probes.push(modelCall(heldUntil + i * 2_000))
      expect(judge(probes).status).toBe('trip')
      expect(judgeHeld(probes)).toMatchObject({ status: 'ok' })
    }
    // The probe fails: the loop goes on, the streak (old failures too) trips again.
    const failed = [...storm, modelCall(heldUntil), failure(heldUntil + 100)]
    expect(judgeHeld(failed)).toMatchObject({ status: 'trip', evidence: { failures: 11 } })
    // The probe succeeds: the streak is over, whatever follows.
    const recovered = [
      ...storm,
      modelCall(heldUntil),
      modelResult(heldUntil + 100),
      failure(heldUntil + 200),
    ]
    expect(judgeHeld(recovered).status).toBe('ok')
  })

  it('judges window[start..end) only: what lies before start is not the window', () => {
    // A store's own array, read with bounds: 4 failures before the window and 6 in it.
    const events = failedCalls(10)
    const now = (events.at(-1) as ActivityEvent).at
    expect(detectErrorStreak(events, now, config, events.length, 8)).toMatchObject({
      status: 'warn',
      evidence: { failures: 6 },
    })
    expect(detectErrorStreak(events, now, config, events.length, 0).status).toBe('trip')
  })
})
