// An argument given in the wrong place may be a webhook URL or a secret: errors name the
// option and the fix, and quote what was given only when it holds neither.
import { InvalidConfigError } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import {
  parseDurationMs,
  parseFraction,
  parseLimit,
  parseUsd,
  parseWholeNumber,
  shownValue,
} from './parse-input.js'

const SLACK = 'https://hooks.slack.com/services/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'
const SECRETS = [
  SLACK,
  'whsec_Zx9SECRETSECRETSECRET9xZ',
  'sk-live-SECRETSECRET',
  'Zx9SECRETSECRETSECRET9xZ',
]

function messageOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError)
    return (error as Error).message
  }
  throw new Error('no error')
}

describe('CLI argument errors never echo a URL or a secret', () => {
  it('names the option and the fix, not the value', () => {
    for (const value of SECRETS) {
      const messages = [
        messageOf(() => parseFraction(value, 'at')),
        messageOf(() => parseUsd(value, 'cap')),
        messageOf(() => parseWholeNumber(value, 'port', 0, 65535)),
        messageOf(() => parseLimit(value, 'limit')),
        messageOf(() => parseLimit(`${value}/day`, 'limit')),
        messageOf(() => parseDurationMs(value, 'ttl')),
      ]
      for (const message of messages) {
        expect(message).not.toContain('SECRET')
        expect(message).not.toContain('hooks.slack')
        expect(message).toMatch(/characters \(not shown\)/)
      }
      expect(messages[0]).toMatch(/^Invalid --at: .*give a fraction of the cap/)
    }
    expect(messageOf(() => parseFraction(SLACK, 'at'))).toContain(
      `a URL of ${SLACK.length} characters (not shown)`,
    )
  })

  it('still quotes an ordinary mistake', () => {
    expect(messageOf(() => parseFraction('80%%', 'at'))).toContain('"80%%"')
    expect(messageOf(() => parseUsd('fifty', 'cap'))).toContain('"fifty"')
    expect(shownValue('5/fortnight')).toBe('"5/fortnight"')
  })
})

describe('dollar amounts', () => {
  it('reads what people write', () => {
    const read: Array<[string, number]> = [
      ['50', 50],
      ['12.5', 12.5],
      ['.5', 0.5],
      ['$50', 50],
      [' 0.50 ', 0.5],
      ['1,000', 1_000],
      ['12,345,678.25', 12_345_678.25],
      ['1_000', 1_000],
    ]
    for (const [text, usd] of read) {
      expect(parseUsd(text, 'cap')).toBe(usd)
      expect(parseLimit(`${text}/day`, 'limit')).toEqual({ amount: usd, per: 'day' })
    }
  })

  it('refuses a decimal comma, misplaced commas, hex, binary and exponents: never a cap 100x too high', () => {
    for (const text of [
      '0,50',
      '0,25',
      '1,5',
      ',,1,,',
      '1,00',
      '10,0000',
      '0x10',
      '0b11',
      '1e3',
      '-5',
      '.',
      '$',
      '5.',
      '1__0',
    ]) {
      expect(messageOf(() => parseUsd(text, 'cap'))).toMatch(
        /^Invalid cap: .*a comma only between thousands/,
      )
      expect(messageOf(() => parseLimit(`${text}/day`, 'limit'))).toMatch(/^Invalid --limit: /)
    }
  })
})
