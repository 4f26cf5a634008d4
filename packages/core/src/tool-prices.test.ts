import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from './errors.js'
import { parseToolPrices } from './tool-prices.js'

describe('parseToolPrices', () => {
  it('accepts dollars per call by tool name, free tools omitted', () => {
    expect(parseToolPrices({ web_search: 0.01, free: 0 }, ['web_search', 'free', 'other'])).toEqual(
      { web_search: 0.01, free: 0 },
    )
    expect(parseToolPrices(undefined)).toEqual({})
  })

  it.each([
    [{ search: -1 }, undefined, 'toolPrices.search', 'finite number >= 0'],
    [{ search: Number.NaN }, undefined, 'toolPrices.search', 'finite number >= 0'],
    [{ search: '0.01' }, undefined, 'toolPrices.search', 'finite number >= 0'],
    [{ serach: 0.01 }, ['search'], 'toolPrices.serach', 'names no tool: the tools are search'],
    [[0.01], undefined, 'toolPrices', 'e.g. { web_search: 0.01 }'],
  ])('refuses %j naming the field and the fix', (value, tools, field, hint) => {
    try {
      parseToolPrices(value, tools)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect(error).toMatchObject({ field })
      expect((error as Error).message).toContain(hint)
    }
  })
})
