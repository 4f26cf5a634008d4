import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, spend } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectSpendVelocity } from './spend-velocity.js'

const config = DEFAULT_RUNAWAY_CONFIG.spendVelocity
const T0 = 1_700_000_000_000
const usd = (dollars: number) => Math.round(dollars * 1_000_000)

describe('detectSpendVelocity', () => {
  it('warns from warnUsd and trips exactly at tripUsd within the window', () => {
    const at = (total: number) => [
      modelResult(T0, { micros: usd(total - 5) }),
      spend(T0 + 30_000, usd(5)),
    ]
    expect(detectSpendVelocity(at(9.99), T0 + 30_000, config).status).toBe('ok')
    expect(detectSpendVelocity(at(10), T0 + 30_000, config).status).toBe('warn')
    expect(detectSpendVelocity(at(24.999999), T0 + 30_000, config).status).toBe('warn')
    expect(detectSpendVelocity(at(25), T0 + 30_000, config)).toMatchObject({
      status: 'trip',
      evidence: { spentUsd: 25, charges: 2, tripUsd: 25, windowMs: 60_000 },
    })
  })

  it('forgets spend older than windowMs', () => {
    const window = [
      modelResult(T0, { micros: usd(20) }),
      modelResult(T0 + 60_000, { micros: usd(20) }),
    ]
    expect(detectSpendVelocity(window, T0 + 60_000, config).status).toBe('warn')
    expect(detectSpendVelocity(window, T0 + 59_999, config).status).toBe('trip')
  })

  it('trips the $4,000-in-11-minutes incident within seconds', () => {
    // $4,000 over 660 s is about $6.06 a second: one $1.52 call every quarter second.
    const perCall = usd(4000 / 2640)
    const window: ActivityEvent[] = []
    let trippedAfterMs: number | undefined
    for (let i = 0; i < 2640 && trippedAfterMs === undefined; i++) {
      const at = T0 + i * 250
      window.push(modelCall(at), modelResult(at + 200, { micros: perCall }))
      if (detectSpendVelocity(window.slice(-256), at + 200, config).status === 'trip')
        trippedAfterMs = i * 250 + 200
    }
    expect(trippedAfterMs).toBeLessThan(60_000)
    expect(trippedAfterMs).toBeLessThan(5_000)
  })

  it('never flags an agent spending steadily below the rate for hours', () => {
    // $0.30 every 2 seconds is $9 a minute, $540 an hour: expensive, but a steady pace.
    const window: ActivityEvent[] = []
    for (let i = 0; i < 3 * 1800; i++) {
      window.push(modelCall(T0 + i * 2000), modelResult(T0 + i * 2000 + 1000, { micros: usd(0.3) }))
      if (window.length > 256) window.splice(0, window.length - 256)
      expect(detectSpendVelocity(window, T0 + i * 2000 + 1000, config).status).toBe('ok')
    }
  })

  it('ignores events that carry no spend', () => {
    const window = [modelCall(T0), { at: T0, kind: 'tool_call', micros: usd(100) } as ActivityEvent]
    expect(detectSpendVelocity(window, T0, config).status).toBe('ok')
  })
})
