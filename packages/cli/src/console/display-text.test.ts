// What an agent chose reaches the operator's page escaped: a bidi override cannot make a $40
// tool read as a cent, a zero-width or tag character cannot hide, and the escapes are the
// CLI's own, so the page and the terminal show the same text.
import { describe, expect, it } from 'vitest'
import { escapeControls } from '../terminal-style.js'
import { displaySafe, displayText } from './display-text.js'

describe('displayText', () => {
  it('escapes controls, bidi overrides and isolates as the CLI does', () => {
    const text = 'search\u202E10.0$ rof \u2066x\u2069 \u200b\u001b[2J\u009b\r\n'
    expect(displayText(text)).toBe(escapeControls(text))
    expect(displayText(text)).toBe(
      'search\\u202e10.0$ rof \\u2066x\\u2069 \\u200b\\x1b[2J\\u009b\\x0d\\x0a',
    )
  })

  it('escapes the invisible characters a page renders as nothing, tag characters included', () => {
    expect(displayText('a\u061cb\u00adc\u2060d\u206ae\u{e0041}\u{e007f}f')).toBe(
      'a\\u061cb\\u00adc\\u2060d\\u206ae\\u{e0041}\\u{e007f}f',
    )
  })

  it('leaves ordinary text, right-to-left scripts and emoji as they are', () => {
    const text = 'GET https://x/ שלום مرحبا 💻 $0.01'
    expect(displayText(text)).toBe(text)
  })
})

describe('displaySafe', () => {
  it('escapes every string in a value, keys and nested ones included, and nothing else', () => {
    expect(
      displaySafe({
        summary: 'settled $40 for tool search\u202E10.0$ rof',
        data: { cost: 40, 'to\u200bol': ['a\u2067b'], ok: true, none: null },
      }),
    ).toEqual({
      summary: 'settled $40 for tool search\\u202e10.0$ rof',
      data: { cost: 40, 'to\\u200bol': ['a\\u2067b'], ok: true, none: null },
    })
  })
})
