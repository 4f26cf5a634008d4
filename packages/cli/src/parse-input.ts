// Parsing of the CLI's numeric arguments. Errors are InvalidConfigError naming the option,
// so they print like every other input error and exit with the usage code.

import { InvalidConfigError } from '@killswitch/core'

// An argument in the wrong place may be a webhook URL or a secret (`--at` given the URL, a
// key pasted for an amount): an error quotes what was given only when it holds neither, so
// it never lands in a terminal's scrollback, a CI log or a shell history paste.
const URL_LIKE = /[a-z][a-z0-9+.-]*:\/\/|\bwww\./i
const SECRET_LIKE = /whsec_|\b(?:sk|pk|rk|ks|xox[a-z]|gh[opsu]|AKIA)[-_]|[A-Za-z0-9_+/=-]{20,}/i

/**
 * What was given, as an error shows it: quoted, or only its kind and length when it looks
 * like a URL or a secret.
 *
 * @example
 * shownValue('80') // '"80"'
 * shownValue('https://hooks.slack.com/services/T0/B0/x') // 'a URL of 40 characters (not shown)'
 */
export function shownValue(value: string): string {
  if (URL_LIKE.test(value)) return `a URL of ${value.length} characters (not shown)`
  if (SECRET_LIKE.test(value)) return `a value of ${value.length} characters (not shown)`
  return `"${value}"`
}

// Dollars as people write them: `50`, `12.5`, `.5`, `$50`, thousands grouped by commas
// (`1,000`) or underscores (`1_000`). Nothing else: a comma anywhere but between groups of
// three is a decimal comma (`0,50` was read as $50, a cap 100x too high), and `Number`
// alone also takes hex, binary and exponents (`0x10` was $16).
const DOLLARS = /^\$?(?:\d{1,3}(?:,\d{3})+|\d+(?:_\d+)*)?(?:\.\d+)?$/

/** The dollars `text` says, or undefined when it is not plainly an amount of dollars. */
function dollarsOf(text: string): number | undefined {
  const trimmed = text.trim()
  if (!DOLLARS.test(trimmed) || !/\d/.test(trimmed)) return undefined
  return Number(trimmed.replace(/^\$/, '').replace(/[,_]/g, ''))
}

const DOLLARS_FIX = 'e.g. 50, 12.5 or 1,000; a comma only between thousands'

/**
 * Parses dollars: `50`, `12.5`, `$50`, `1,000`, `1_000`.
 *
 * @example
 * parseUsd('$50', 'cap') // 50
 */
export function parseUsd(value: string, field: string): number {
  const usd = dollarsOf(value)
  if (usd === undefined) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: ${shownValue(value)} is not an amount of dollars (${DOLLARS_FIX}).`,
    )
  }
  return usd
}

/**
 * Parses a fraction of the cap: `0.8` or `80%`.
 *
 * @example
 * parseFraction('80%', 'at') // 0.8
 */
export function parseFraction(value: string, field: string): number {
  const text = value.trim()
  const percent = text.endsWith('%')
  const number = Number(percent ? text.slice(0, -1) : text)
  const fraction = percent ? number / 100 : number
  if (text === '' || !Number.isFinite(fraction) || fraction <= 0 || fraction > 1) {
    throw new InvalidConfigError(
      field,
      `Invalid --${field}: ${shownValue(value)}; give a fraction of the cap above 0 and at most 1 (e.g. 0.8) or a percentage (e.g. 80%).`,
    )
  }
  return fraction
}

/**
 * Parses a whole number within bounds (ports, limits).
 *
 * @example
 * parseWholeNumber('8787', 'port', 0, 65535) // 8787
 */
export function parseWholeNumber(value: string, field: string, min: number, max: number): number {
  const number = Number(value)
  if (!/^\d+$/.test(value.trim()) || number < min || number > max) {
    throw new InvalidConfigError(
      field,
      `Invalid --${field}: ${shownValue(value)}; give a whole number from ${min} to ${max}.`,
    )
  }
  return number
}

const PERS = ['minute', 'hour', 'day', 'week', 'month', 'lifetime'] as const
type Per = (typeof PERS)[number]
// What people type for a window: "5/hour", "5/h", "$100/day", "2000/mo".
const PER_ALIASES: Record<string, Per> = {
  m: 'minute',
  min: 'minute',
  minute: 'minute',
  h: 'hour',
  hr: 'hour',
  hour: 'hour',
  d: 'day',
  day: 'day',
  w: 'week',
  wk: 'week',
  week: 'week',
  mo: 'month',
  month: 'month',
  lifetime: 'lifetime',
  life: 'lifetime',
}

/**
 * Parses a spending limit `AMOUNT/WINDOW`: `5/hour`, `$100/day`, `2000/month`.
 *
 * @example
 * parseLimit('5/hour', 'limit') // { amount: 5, per: 'hour' }
 */
export function parseLimit(value: string, flag: string): { amount: number; per: Per } {
  const fix = `give AMOUNT/WINDOW in dollars, e.g. --${flag} 5/hour or --${flag} 100/day (windows: ${PERS.join(', ')})`
  const match = /^\s*([^/]+)\/\s*([a-z]+?)s?\s*$/i.exec(value)
  const per = match?.[2] ? PER_ALIASES[match[2].toLowerCase()] : undefined
  if (!match?.[1] || per === undefined) {
    throw new InvalidConfigError(flag, `Invalid --${flag}: ${shownValue(value)}; ${fix}.`)
  }
  const amount = dollarsOf(match[1])
  if (amount === undefined) {
    throw new InvalidConfigError(
      flag,
      `Invalid --${flag}: ${shownValue(value)}: ${shownValue(match[1].trim())} is not an amount of dollars (${DOLLARS_FIX}); ${fix}.`,
    )
  }
  return { amount, per }
}

/** Parses repeated `--limit` flags, refusing two limits on the same window. */
export function parseLimits(values: readonly string[], flag: string) {
  const limits = values.map((value) => parseLimit(value, flag))
  const seen = new Set<string>()
  for (const limit of limits) {
    if (seen.has(limit.per)) {
      throw new InvalidConfigError(
        flag,
        `Invalid --${flag}: two limits per ${limit.per}; give one --${flag} per window (e.g. --${flag} 5/hour --${flag} 20/day).`,
      )
    }
    seen.add(limit.per)
  }
  return limits
}

/**
 * Parses a duration: `90s`, `15m`, `1h`, `2d`, or plain milliseconds.
 *
 * @example
 * parseDurationMs('1h', 'ttl') // 3_600_000
 */
export function parseDurationMs(
  value: string,
  flag: string,
  /** The bounds the duration is used under (a grant: 1 s to 7 days), with how to say them. */
  bounds?: { min: number; max: number; range: string },
): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value)
  const unit = (match?.[2] ?? 'ms').toLowerCase()
  const scale: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
  const ms = match?.[1] === undefined ? Number.NaN : Number(match[1]) * (scale[unit] ?? Number.NaN)
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new InvalidConfigError(
      flag,
      `Invalid --${flag}: ${shownValue(value)}; give a duration such as 30m, 1h or 2d.`,
    )
  }
  const rounded = Math.round(ms)
  if (bounds && (rounded < bounds.min || rounded > bounds.max)) {
    throw new InvalidConfigError(
      flag,
      `Invalid --${flag}: ${shownValue(value)} is out of range; give ${bounds.range}.`,
    )
  }
  return rounded
}

/** Collects a repeatable option. */
export const collect = (value: string, previous: string[] = []) => [...previous, value]

/**
 * An agent's handle as typed: surrounding whitespace (pasted from the padded `agents list`
 * table) dropped, so a revoke never refuses to fire for a space. Handles hold none.
 *
 * @example
 * new Command('revoke').argument('<handle>', "the agent's handle", handleArgument)
 */
export const handleArgument = (value: string) => value.trim()
