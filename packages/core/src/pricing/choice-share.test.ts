import { describe, expect, it } from 'vitest'
import { choiceShare } from './choice-share.js'

describe('choiceShare', () => {
  it('shares the clamp out between the choices, rounding each share down', () => {
    expect(choiceShare(1_000, 3)).toBe(333)
    expect(choiceShare(1_000, 4)).toBe(250)
    expect(choiceShare(3, 3)).toBe(1)
  })

  it('gives one choice the whole clamp, however the count of choices is unset', () => {
    expect(choiceShare(700)).toBe(700)
    expect(choiceShare(700, 1)).toBe(700)
    expect(choiceShare(700, 0)).toBe(700)
  })

  it('rounds a fractional count of choices up (a choice is whole)', () => {
    expect(choiceShare(1_000, 2.5)).toBe(333)
  })

  it('has no share for fewer tokens than choices: never a request past the clamp', () => {
    expect(choiceShare(2, 3)).toBeUndefined()
    expect(choiceShare(0, 1)).toBeUndefined()
  })
})
