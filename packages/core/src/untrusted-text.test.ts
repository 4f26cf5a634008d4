// Text from outside, bounded and printable for the audit log and messages.
import { describe, expect, it } from 'vitest'
import { boundedText, quotedValue, shownText } from './untrusted-text.js'

describe('boundedText', () => {
  it('escapes what could forge a line or reorder one, and keeps the rest', () => {
    expect(boundedText('ok\n[killswitch] revoked\r\u0000\u2028\u202e')).toBe(
      'ok\\u000a[killswitch] revoked\\u000d\\u0000\\u2028\\u202e',
    )
    expect(boundedText('0xabc é 日本')).toBe('0xabc é 日本')
  })

  it('cuts at 200 characters, saying so, however long the string', () => {
    const cut = boundedText('x'.repeat(1_000_000)) ?? ''
    expect(cut).toHaveLength(200)
    expect(cut.endsWith('…')).toBe(true)
    expect(boundedText('x'.repeat(200))).toBe('x'.repeat(200))
    // Escapes count: a string of newlines is cut too.
    expect(boundedText('\n'.repeat(500))?.length).toBe(200)
  })

  it('is undefined for anything but a string', () => {
    expect(boundedText(5)).toBeUndefined()
    expect(boundedText(undefined)).toBeUndefined()
  })
})

describe('quotedValue', () => {
  it('shows the type of what was given', () => {
    expect(quotedValue([0.5])).toBe('[0.5]')
    expect(quotedValue('0.5')).toBe('"0.5"')
    expect(quotedValue(Number.NaN)).toBe('NaN')
    expect(quotedValue(1e300)).toBe('1e+300')
    expect(quotedValue(null)).toBe('null')
    expect(quotedValue(undefined)).toBe('undefined')
    expect(quotedValue(10n)).toBe('10n')
    expect(quotedValue(() => 1)).toBe('a function')
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(quotedValue(circular)).toBe('[object Object]')
    expect(quotedValue(['x'.repeat(1_000)])).toHaveLength(80)
  })
})

describe('shownText', () => {
  it('shows a string as itself, bounded, and anything else quoted', () => {
    expect(shownText('0xabc')).toBe('0xabc')
    expect(shownText(5)).toBe('5')
    expect(shownText('a\nb')).toBe('a\\u000ab')
  })
})
