import { describe, expect, it } from 'vitest'
import { csvCell, formatTable, formatUsd, spendBar } from './format.js'
import { createTerminalStyle, shouldUseColour, visibleWidth } from './terminal-style.js'

const plain = createTerminalStyle(false)

describe('format', () => {
  it('formats dollars with cents, and sub-cent amounts with their digits', () => {
    expect(formatUsd(50)).toBe('$50.00')
    expect(formatUsd(1234.5)).toBe('$1,234.50')
    expect(formatUsd(0)).toBe('$0.00')
    expect(formatUsd(0.00045)).toBe('$0.00045')
    expect(formatUsd(-2)).toBe('-$2.00')
  })

  it('draws spend against cap, clamped to the bar', () => {
    expect(spendBar(25, 50, plain)).toBe(`${'█'.repeat(10)}${'░'.repeat(10)}  50%`)
    expect(spendBar(0, 50, plain, { width: 4 })).toBe('░░░░   0%')
    expect(spendBar(60, 50, plain, { width: 4 })).toBe('████ 120%')
    expect(spendBar(1, 0, plain, { width: 4 })).toBe('████ 100%')
  })

  it('colours the bar by how close to the cap it is', () => {
    const colour = createTerminalStyle(true)
    expect(spendBar(10, 50, colour)).toContain('\u001b[32m')
    expect(spendBar(40, 50, colour)).toContain('\u001b[33m')
    expect(spendBar(50, 50, colour)).toContain('\u001b[31m')
    expect(spendBar(0, 50, colour, { revoked: true })).toContain('\u001b[31m')
  })

  it('aligns table columns by visible width, ignoring colour codes', () => {
    const colour = createTerminalStyle(true)
    const table = formatTable(
      ['A', 'B'],
      [
        [colour.red('xx'), '1'],
        ['y', '2'],
      ],
      plain,
    )
    const lines = table.split('\n')
    expect(lines.map(visibleWidth)).toEqual([5, 5, 5, 0])
    expect(lines[1]?.endsWith('  1')).toBe(true)
    expect(lines[2]).toBe('y   2')
  })

  it('quotes CSV cells and defuses formulas', () => {
    expect(csvCell('plain')).toBe('plain')
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`)
  })

  it('colours only a TTY without NO_COLOR or TERM=dumb', () => {
    expect(shouldUseColour({ write: () => true, isTTY: true }, {})).toBe(true)
    expect(shouldUseColour({ write: () => true, isTTY: false }, {})).toBe(false)
    expect(shouldUseColour({ write: () => true, isTTY: true }, { NO_COLOR: '1' })).toBe(false)
    expect(shouldUseColour({ write: () => true, isTTY: true }, { TERM: 'dumb' })).toBe(false)
  })
})
