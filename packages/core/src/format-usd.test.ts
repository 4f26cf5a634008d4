import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatUsd, spentPercent } from './format-usd.js'

describe('formatUsd', () => {
  it('shows cents from $1, more digits below, never $0.00 for a cost', () => {
    expect(formatUsd(50)).toBe('$50.00')
    expect(formatUsd(1234.5)).toBe('$1,234.50')
    expect(formatUsd(0)).toBe('$0.00')
    expect(formatUsd(0.0179)).toBe('$0.0179')
    expect(formatUsd(0.1)).toBe('$0.10')
    expect(formatUsd(0.25)).toBe('$0.25')
    expect(formatUsd(0.00045)).toBe('$0.00045')
    expect(formatUsd(0.000001)).toBe('$0.000001')
    expect(formatUsd(-2)).toBe('-$2.00')
  })

  it('from $1, shows what is past the cents instead of rounding up to the next cent', () => {
    expect(formatUsd(49.996)).toBe('$49.996')
    expect(formatUsd(49.99996)).toBe('$49.9999')
    expect(formatUsd(1.5)).toBe('$1.50')
    expect(formatUsd(1234.5678)).toBe('$1,234.5678')
    expect(formatUsd(0.57 + 1)).toBe('$1.57')
    expect(formatUsd(-1.0001)).toBe('-$1.0001')
  })

  it('never shows an amount from $1 above what it is', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000, max: 10_000_000_000 }), (micros) => {
        const shown = Number(formatUsd(micros / 1_000_000).replace(/[$,]/g, ''))
        expect(shown).toBeLessThanOrEqual(micros / 1_000_000)
        expect(micros / 1_000_000 - shown).toBeLessThan(0.0001)
      }),
    )
  })

  it('never shows a non-zero micro-dollar amount as $0.00', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000_000 }), (micros) => {
        expect(formatUsd(micros / 1_000_000)).not.toMatch(/^\$0\.0*$/)
      }),
    )
  })
})

describe('spentPercent', () => {
  it('rounds down, so 100% means the cap is reached', () => {
    expect(spentPercent(0.0179, 0.1)).toBe(17)
    expect(spentPercent(0.0999, 0.1)).toBe(99)
    expect(spentPercent(0.1, 0.1)).toBe(100)
    expect(spentPercent(0.3, 0.1)).toBe(300)
    expect(spentPercent(1, 0)).toBe(100)
    expect(spentPercent(0, 0)).toBe(0)
  })
})
