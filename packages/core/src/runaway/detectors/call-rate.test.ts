import { describe, expect, it } from 'vitest'
import { RateWindow } from '../rate-window.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectCallRate } from './call-rate.js'

const config = DEFAULT_RUNAWAY_CONFIG.callRate
const T0 = 1_700_000_000_000

describe('detectCallRate', () => {
  it('warns from warnModelCalls and trips exactly at tripModelCalls', () => {
    expect(detectCallRate(2_499, 'model_call', config).status).toBe('ok')
    expect(detectCallRate(2_500, 'model_call', config).status).toBe('warn')
    expect(detectCallRate(4_999, 'model_call', config).status).toBe('warn')
    expect(detectCallRate(5_000, 'model_call', config)).toMatchObject({
      status: 'trip',
      evidence: { calls: 'model', count: 5_000, tripAt: 5_000 },
    })
  })

  it('judges tool calls against their own thresholds', () => {
    const custom = { ...config, tripModelCalls: 10, tripToolCalls: 20, warnToolCalls: 15 }
    expect(detectCallRate(12, 'tool_call', custom).status).toBe('ok')
    expect(detectCallRate(12, 'model_call', custom).status).toBe('trip')
    expect(detectCallRate(20, 'tool_call', custom).evidence).toMatchObject({ calls: 'tool' })
  })
})

describe('RateWindow', () => {
  it('counts what was added within the window, to a tenth of it', () => {
    const calls = new RateWindow(10_000)
    for (let i = 0; i < 100; i++) calls.add(T0 + i * 100, 1)
    expect(calls.sum(T0 + 9_900)).toBe(100)
    // 5 s later the first half has left the window.
    expect(calls.sum(T0 + 14_900)).toBe(50)
    expect(calls.sum(T0 + 30_000)).toBe(0)
  })

  it('a fan-out of 300 calls in a second and 20 calls a second for a minute stay below the trip', () => {
    const burst = new RateWindow(config.windowMs)
    for (let i = 0; i < 300; i++) burst.add(T0 + i * 3, 1)
    expect(detectCallRate(burst.sum(T0 + 900), 'model_call', config).status).toBe('ok')
    const busy = new RateWindow(config.windowMs)
    let worst = 0
    for (let i = 0; i < 1_200; i++) {
      busy.add(T0 + i * 50, 1)
      worst = Math.max(worst, busy.sum(T0 + i * 50))
    }
    expect(worst).toBeLessThanOrEqual(220)
    expect(detectCallRate(worst, 'tool_call', config).status).toBe('ok')
  })

  it('a batch of 1,200 cheap classifications at 150 calls a second stays below the warning', () => {
    // LangChain `batch(1_200, { maxConcurrency: 50 })` (red team r14: throttled at 1,000).
    const batch = new RateWindow(config.windowMs)
    let worst = 0
    for (let i = 0; i < 1_200; i++) {
      batch.add(T0 + Math.floor(i * 6.67), 1)
      worst = Math.max(worst, batch.sum(T0 + Math.floor(i * 6.67)))
    }
    expect(worst).toBe(1_200)
    expect(detectCallRate(worst, 'model_call', config).status).toBe('ok')
  })
})
