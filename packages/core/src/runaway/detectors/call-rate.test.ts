import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, spend, toolCall, toolResult } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectCallRate } from './call-rate.js'

const config = DEFAULT_RUNAWAY_CONFIG.callRate
const T0 = 1_700_000_000_000

/** `n` model calls spread evenly over `spanMs`, each with its result. */
function modelCalls(n: number, spanMs: number): ActivityEvent[] {
  const step = n > 1 ? spanMs / (n - 1) : 0
  return Array.from({ length: n }, (_, i) => [
    modelResult(T0 + i * step - 1, { micros: 1 }),
    modelCall(T0 + i * step),
  ]).flat()
}

describe('detectCallRate', () => {
  it('warns from warnModelCalls and trips exactly at tripModelCalls in the window', () => {
    const judge = (n: number) => detectCallRate(modelCalls(n, 9_000), T0 + 9_000, config).status
    expect(judge(24)).toBe('ok')
    expect(judge(25)).toBe('warn')
    expect(judge(49)).toBe('warn')
    expect(judge(50)).toBe('trip')
  })

  it('does not count calls older than windowMs', () => {
    expect(detectCallRate(modelCalls(50, 10_000), T0 + 10_000, config).status).toBe('warn')
  })

  it('counts tool calls against their own thresholds', () => {
    const window = Array.from({ length: 100 }, (_, i) => [
      toolCall(T0 + i * 50, 'fetch', { i }),
      toolResult(T0 + i * 50 + 10, 'fetch', true),
    ]).flat()
    window.pop()
    expect(detectCallRate(window, T0 + 5_000, config)).toMatchObject({
      status: 'trip',
      evidence: { calls: 'tool', count: 100, tripAt: 100 },
    })
    expect(detectCallRate(window.slice(0, -2), T0 + 5_000, config).status).toBe('warn')
  })

  it('trips when a flood overflows the history within the window (the count would be a lower bound)', () => {
    // Paid tool calls: call, payment, result. 85 of them fill 255 slots.
    const window = Array.from({ length: 86 }, (_, i) => [
      toolCall(T0 + i * 80, 'paid_search', { i }),
      spend(T0 + i * 80 + 1, 500_000),
      toolResult(T0 + i * 80 + 2, 'paid_search', true),
    ]).flat()
    const view = (n: number) => window.slice(0, n).slice(-256)
    // 255 events: everything is visible, 85 tool calls, below 100.
    expect(detectCallRate(view(253), T0 + 6_720, config, 256).status).toBe('warn')
    const overflowing = view(256)
    expect(detectCallRate(overflowing, T0 + 6_800, config, 256)).toMatchObject({
      status: 'trip',
      evidence: { overflowed: true, events: 256, historySize: 256 },
    })
    // The same window spread over more than windowMs is not a flood.
    const slow = overflowing.map((event, i) => ({ ...event, at: T0 + i * 100 }))
    expect(detectCallRate(slow, T0 + 25_500, config, 256).status).not.toBe('trip')
  })

  it('judges only calls', () => {
    const window = [...modelCalls(60, 1_000), modelResult(T0 + 1_000, { micros: 1 })]
    expect(detectCallRate(window, T0 + 1_000, config).status).toBe('ok')
  })

  it('never flags a sequential agent (one model call a second, for an hour)', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 3600; i++) {
      window.push(modelCall(T0 + i * 1000), modelResult(T0 + i * 1000 + 600, { micros: 1 }))
      window.push(toolCall(T0 + i * 1000 + 700, 'search', { i }))
      if (window.length > 256) window.splice(0, window.length - 256)
      expect(detectCallRate(window, T0 + i * 1000 + 700, config).status).toBe('ok')
    }
  })
})
