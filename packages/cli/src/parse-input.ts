// Parsing of the CLI's numeric arguments. Errors are InvalidConfigError naming the option,
// so they print like every other input error and exit with the usage code.

import { InvalidConfigError } from '@killswitch/core'

/**
 * Parses dollars: `50`, `12.5`, `$50`, `1_000`.
 *
 * @example
 * parseUsd('$50', 'cap') // 50
 */
export function parseUsd(value: string, field: string): number {
  const cleaned = value.trim().replace(/^\$/, '').replaceAll('_', '').replaceAll(',', '')
  const usd = cleaned === '' ? Number.NaN : Number(cleaned)
  if (!Number.isFinite(usd)) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: "${value}" is not an amount of dollars (e.g. 50 or 12.5).`,
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
      `Invalid --${field}: "${value}"; give a fraction of the cap above 0 and at most 1 (e.g. 0.8) or a percentage (e.g. 80%).`,
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
      `Invalid --${field}: "${value}"; give a whole number from ${min} to ${max}.`,
    )
  }
  return number
}
