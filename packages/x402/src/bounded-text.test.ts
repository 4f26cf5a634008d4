import { describe, expect, it } from 'vitest'
import { boundedText, shownValue } from './bounded-text.js'

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

describe('shownValue', () => {
  it('shows the type of what was given', () => {
    expect(shownValue([0.5])).toBe('[0.5]')
    expect(shownValue('0.5')).toBe('"0.5"')
    expect(shownValue(Number.NaN)).toBe('NaN')
    expect(shownValue(1e300)).toBe('1e+300')
    expect(shownValue(null)).toBe('null')
    expect(shownValue(undefined)).toBe('undefined')
    expect(shownValue(10n)).toBe('10n')
    expect(shownValue(() => 1)).toBe('a function')
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(shownValue(circular)).toBe('[object Object]')
    expect(shownValue(['x'.repeat(1_000)])).toHaveLength(80)
  })
})
