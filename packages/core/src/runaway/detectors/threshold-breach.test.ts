import { describe, expect, it } from 'vitest'
import { detectThresholdBreach } from './threshold-breach.js'

const config = { enabled: true, fraction: 0.9, action: 'revoke' as const }

describe('detectThresholdBreach', () => {
  it('trips exactly when spend reaches the fraction of the cap', () => {
    expect(
      detectThresholdBreach({ spentMicros: 44_999_999, capMicros: 50_000_000 }, config).status,
    ).toBe('ok')
    expect(
      detectThresholdBreach({ spentMicros: 45_000_000, capMicros: 50_000_000 }, config),
    ).toMatchObject({
      status: 'trip',
      evidence: { spentUsd: 45, capUsd: 50, fraction: 0.9, thresholdUsd: 45 },
    })
  })

  it('has nothing to cross on a zero cap', () => {
    expect(detectThresholdBreach({ spentMicros: 0, capMicros: 0 }, config).status).toBe('ok')
  })
})
