// Plain-text formatting for the CLI: money, spend bars and aligned tables. Pure functions,
// so tests can assert exact output.

import { formatUsd, spentPercent } from '@killswitch/core'
import { escapeControls, type TerminalStyle, visibleWidth } from './terminal-style.js'

// Money is shown by core's one formatter, so the CLI, the demo and the console agree.
export { formatUsd }

/**
 * A bar of `width` cells showing spent against cap, with the percentage, coloured green,
 * yellow from 80% and red at 100% (or when revoked).
 *
 * @example
 * spendBar(25, 50, style) // '██████████░░░░░░░░░░  50%'
 */
export function spendBar(
  spent: number,
  cap: number,
  style: TerminalStyle,
  options: { width?: number; revoked?: boolean } = {},
): string {
  const width = options.width ?? 20
  const ratio = cap > 0 ? spent / cap : spent > 0 ? 1 : 0
  const filled = Math.min(width, Math.max(0, Math.round(ratio * width)))
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
  const percent = `${spentPercent(spent, cap)}%`.padStart(4)
  const colour =
    options.revoked || ratio >= 1 ? style.red : ratio >= 0.8 ? style.yellow : style.green
  return `${colour(bar)} ${percent}`
}

/**
 * Lays out rows as columns separated by two spaces, the header in bold. A cell's control
 * characters (a newline, an ESC from stored text) are shown as escapes, so each row stays
 * one line and the columns stay aligned; colours are kept only when made with a style
 * marker (`createTerminalStyle(enabled, styleMarker())`, as the CLI's styles are).
 *
 * @example
 * formatTable(['HANDLE', 'STATUS'], [['a', 'active']], style)
 */
export function formatTable(
  headers: readonly string[],
  given: ReadonlyArray<readonly string[]>,
  style: TerminalStyle,
): string {
  // Only the style's own marker is kept: stored text shaped like one is shown as escapes, so
  // it cannot pass for styling and shrink its column's measured width.
  const marker = style.marker === undefined ? {} : { marker: style.marker }
  const rows = given.map((row) => row.map((cell) => escapeControls(cell, marker)))
  const widths = headers.map((header, column) =>
    Math.max(visibleWidth(header), ...rows.map((row) => visibleWidth(row[column] ?? ''))),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1
          ? cell
          : cell + ' '.repeat((widths[column] ?? 0) - visibleWidth(cell)),
      )
      .join('  ')
      .trimEnd()
  return [style.bold(line(headers)), ...rows.map(line)].map((l) => `${l}\n`).join('')
}

/** Quotes a CSV cell (RFC 4180) and defuses spreadsheet formulas (=, +, -, @ at the start). */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}
