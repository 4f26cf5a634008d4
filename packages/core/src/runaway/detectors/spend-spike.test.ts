import { describe, expect, it } from 'vitest'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { SpendHistory } from '../spend-history.js'
import { detectSpendSpike } from './spend-spike.js'

const config = DEFAULT_RUNAWAY_CONFIG.spendVelocity
const T0 = 1_700_000_000_000

/** An agent spending `perMinute` micro-dollars a minute, one charge every 10 s, for `minutes`. */
function steady(history: SpendHistory, perMinute: number, minutes: number, from = T0): number {
  let at = from
  for (let i = 0; i < minutes * 6; i++) {
    at = from + i * 10_000
    history.add(at, perMinute / 6)
  }
  return at
}

describe('detectSpendSpike', () => {
  it('learns the usual rate and trips at 10 times it (and at least $2 a minute)', () => {
    const history = new SpendHistory(config.windowMs, config.historyMs)
    let at = steady(history, 100_000, 20)
    const reading = history.read(at)
    expect(reading.baselineMicros).toBeGreaterThan(80_000)
    expect(reading.baselineMicros).toBeLessThan(120_000)
    expect(detectSpendSpike(reading, config).status).toBe('ok')
    // Then $0.25 every 5 s ($3 a minute): trips once the last minute holds $2.
    let status = 'ok'
    let spent = 0
    while (status === 'ok') {
      at += 5_000
      spent += 250_000
      history.add(at, 250_000)
      status = detectSpendSpike(history.read(at), config).status
    }
    expect(status).toBe('trip')
    expect(spent).toBeGreaterThanOrEqual(2_000_000)
    expect(spent).toBeLessThanOrEqual(2_250_000)
  })

  it('never trips on an agent that has always been busy (20 calls a second from the start)', () => {
    const history = new SpendHistory(config.windowMs, config.historyMs)
    for (let i = 0; i < 30 * 60 * 10; i++) {
      const at = T0 + i * 100
      history.add(at, 1_000)
      if (i % 50 === 0) expect(detectSpendSpike(history.read(at), config).status).toBe('ok')
    }
  })

  it('waits for spikeWarmupMs of history: a new agent has no usual rate yet', () => {
    const history = new SpendHistory(config.windowMs, config.historyMs)
    const at = steady(history, 5_000_000, 5)
    expect(detectSpendSpike(history.read(at), config).status).toBe('ok')
  })

  it('ignores a few cents more than usual (the $2 floor)', () => {
    const history = new SpendHistory(config.windowMs, config.historyMs)
    let at = steady(history, 10_000, 30)
    for (let i = 0; i < 12; i++) {
      at += 5_000
      history.add(at, 100_000)
    }
    expect(detectSpendSpike(history.read(at), config).status).toBe('ok')
  })
})
