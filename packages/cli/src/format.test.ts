import { describe, expect, it } from 'vitest'
import { csvCell, formatTable, formatUsd, spendBar } from './format.js'
import {
  createTerminalStyle,
  escapeControls,
  shouldUseColour,
  styleMarker,
  terminalSafe,
  visibleWidth,
} from './terminal-style.js'

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
    // As the CLI styles: with its run's marker, which only terminalSafe turns into ESC.
    const marker = styleMarker()
    const colour = createTerminalStyle(true, marker)
    const table = formatTable(
      ['A', 'B'],
      [
        [colour.red('xx'), '1'],
        ['y', '2'],
      ],
      // The table's style shares the run's marker (the CLI's do): only it is kept.
      createTerminalStyle(false, marker),
    )
    const lines = table.split('\n')
    expect(lines.map(visibleWidth)).toEqual([5, 5, 5, 0])
    expect(lines[1]?.endsWith('  1')).toBe(true)
    expect(lines[2]).toBe('y   2')
    expect(terminalSafe(lines[1] ?? '', marker)).toBe('\u001b[31mxx\u001b[39m  1')
  })

  it('escapes control characters in cells: rows stay one line, columns aligned', () => {
    const table = formatTable(
      ['A', 'B'],
      [
        ['a\u001b[31m\nb\u009b', '1'],
        ['y', '2'],
      ],
      plain,
    )
    expect(table).toBe(
      'A                     B\na\\x1b[31m\\x0ab\\u009b  1\ny                     2\n',
    )
  })

  it('measures a cell shaped like the style marker at its shown width', () => {
    const marker = styleMarker()
    const style = createTerminalStyle(true, marker)
    // Stored text shaped like a marker (any run's): shown as escapes, so measured as such.
    const fake = `\ue000${'0'.repeat(32)}\ue001[31m`
    const table = terminalSafe(
      formatTable(
        ['REASON', 'X'],
        [
          [`${fake}ABC`, '1'],
          [style.red('revoked'), '2'],
        ],
        style,
      ),
      marker,
    )
    const [header, first, second] = table.split('\n')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: taking the real styling out
    const shown = (line = '') => line.replace(/\u001b\[[0-9;]*m/g, '')
    expect(shown(first)).toBe(`\\ue000${'0'.repeat(32)}\\ue001[31mABC  1`)
    expect(shown(header).indexOf('X')).toBe(shown(first).lastIndexOf('1'))
    expect(shown(second).indexOf('2')).toBe(shown(first).lastIndexOf('1'))
    expect(second).toContain('\u001b[31mrevoked\u001b[39m')
  })

  it('escapes bidi, zero-width and separator characters, keeping the CLI marker', () => {
    expect(escapeControls('a\u202eb\u200bc\u2066d\u2069e\ufeff\u200e\u2028')).toBe(
      'a\\u202eb\\u200bc\\u2066d\\u2069e\\ufeff\\u200e\\u2028',
    )
    // Ordinary text beside them is untouched: accents, CJK, emoji.
    expect(escapeControls('café 東京 🚀 \u2030')).toBe('café 東京 🚀 \u2030')
    const marker = styleMarker()
    const styled = createTerminalStyle(true, marker).red('r\u202e')
    expect(terminalSafe(styled, marker)).toBe('\u001b[31mr\\u202e\u001b[39m')
  })

  it('shows control characters as escapes; only the marked styling becomes ESC', () => {
    const evil = 'x\u001b]52;c;cm0=\u0007\r\u009b2J\u007f\ty\nz'
    expect(escapeControls(evil)).toBe('x\\x1b]52;c;cm0=\\x07\\x0d\\u009b2J\\u007f\\x09y\\x0az')
    expect(escapeControls(evil, { keepNewlines: true })).toContain('y\nz')
    const marker = styleMarker()
    const style = createTerminalStyle(true, marker)
    const out = terminalSafe(`${style.red('revoked')} ${evil} \u001b[31m`, marker)
    expect(out).toBe(
      '\u001b[31mrevoked\u001b[39m x\\x1b]52;c;cm0=\\x07\\x0d\\u009b2J\\u007f\\x09y\nz \\x1b[31m',
    )
    // Another run's marker is just text.
    expect(terminalSafe(createTerminalStyle(true, styleMarker()).red('r'), marker)).not.toContain(
      '\u001b',
    )
    // C1 and DEL escapes keep JSON valid.
    expect(JSON.parse(terminalSafe(JSON.stringify({ r: evil })))).toEqual({
      r: evil.replaceAll('\u009b', '\u009b'),
    })
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
