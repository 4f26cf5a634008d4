// Colours only where a person reads them: on a TTY, and never when NO_COLOR is set
// (https://no-color.org). Piped output (`killswitch agents list | grep`) stays plain text.
// And never from stored text: agents, models and webhooks put text in the store (a tool name
// in a runaway reason, an approval reason), so everything the CLI writes goes through
// `terminalSafe`, which shows control characters as escapes; the CLI's own colours are made
// with a per-run marker that only `terminalSafe` turns into ESC.

import { randomBytes } from 'node:crypto'

/** Something output is written to: process.stdout or a test buffer. */
export interface OutputStream {
  write(chunk: string): unknown
  isTTY?: boolean
}

/** The styling functions; each is the identity when colours are off. */
export interface TerminalStyle {
  readonly enabled: boolean
  /** The style marker its sequences start with, when not ESC (see `styleMarker`). */
  readonly marker?: string
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
  cyan(text: string): string
}

/**
 * Whether to colour output written to `stream`.
 *
 * @example
 * shouldUseColour(process.stdout, process.env) // false when piped or NO_COLOR=1
 */
export function shouldUseColour(
  stream: OutputStream,
  env: Record<string, string | undefined>,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  return stream.isTTY === true
}

/**
 * Creates the style for one stream. Its SGR sequences start with `introducer` (ESC by
 * default); the CLI passes a `styleMarker()` instead, which only `terminalSafe` turns into
 * ESC, so that nothing but the CLI's own styling can put an ESC on the terminal.
 *
 * @example
 * const style = createTerminalStyle(shouldUseColour(process.stdout, process.env))
 * console.log(style.red('revoked'))
 */
export function createTerminalStyle(enabled: boolean, introducer = '\u001b'): TerminalStyle {
  const ansi = (open: number, close: number) => (text: string) =>
    `${introducer}[${open}m${text}${introducer}[${close}m`
  const plain = (text: string) => text
  return {
    enabled,
    ...(introducer === '\u001b' ? {} : { marker: introducer }),
    bold: enabled ? ansi(1, 22) : plain,
    dim: enabled ? ansi(2, 22) : plain,
    red: enabled ? ansi(31, 39) : plain,
    green: enabled ? ansi(32, 39) : plain,
    yellow: enabled ? ansi(33, 39) : plain,
    cyan: enabled ? ansi(36, 39) : plain,
  }
}

// A style marker: private-use delimiters around 128 random bits, so that no stored text
// can hold the marker of the process printing it.
const MARKER_SGR = /\uE000[0-9a-f]{32}\uE001\[[0-9;]*m/g

/** The visible width of a string: colour codes (real or marked) take no room on screen. */
export function visibleWidth(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
  return text.replace(/\u001b\[[0-9;]*m/g, '').replace(MARKER_SGR, '').length
}

/**
 * A fresh, unguessable stand-in for ESC in the CLI's own styling (see `createTerminalStyle`
 * and `terminalSafe`): one per run.
 */
export function styleMarker(): string {
  return `\uE000${randomBytes(16).toString('hex')}\uE001`
}

// C0 controls (ESC, BEL, CR, BS...), DEL and C1 controls (CSI U+009B, OSC U+009D...): what a
// terminal may act on instead of showing. \n is matched too: callers decide whether it stays.
// Then the invisible characters that change what a line appears to say: zero-width ones
// (U+200B-U+200D, U+FEFF), bidi marks, embeddings, overrides and isolates (U+200E-U+200F,
// U+202A-U+202E, U+2066-U+2069: an RLO shows "evitca" as "active"), and the line and
// paragraph separators (U+2028-U+2029). And the private-use delimiters of the style marker
// (U+E000, U+E001), so that stored text shaped like a marker is shown, not taken for one.
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ue000\ue001]/g

function escapeOne(char: string, keepNewlines: boolean | undefined): string {
  if (char === '\n' && keepNewlines) return char
  const code = char.charCodeAt(0)
  if (code < 0x20) return `\\x${code.toString(16).padStart(2, '0')}`
  return `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * Shows every control character as a visible escape: C0 as `\x1b`, DEL, C1 and the
 * invisible formatting characters above as `\u009b`, `\u202e` (so JSON text stays valid
 * JSON). `keepNewlines` lets `\n` through (whole output); without it, text stays on its one
 * line (a table cell, a reason quoted in a sentence). `marker` (the CLI's style marker) is
 * kept wherever it occurs whole, so the CLI's own styling survives.
 *
 * @example
 * escapeControls('search\u001b]52;c;cm0=\u0007') // 'search\\x1b]52;c;cm0=\\x07'
 */
export function escapeControls(
  text: string,
  options: { keepNewlines?: boolean; marker?: string } = {},
): string {
  const escapePart = (part: string) =>
    part.replace(CONTROL, (char) => escapeOne(char, options.keepNewlines))
  if (options.marker === undefined || options.marker === '') return escapePart(text)
  return text.split(options.marker).map(escapePart).join(options.marker)
}

/**
 * What the CLI writes to a stream: every control character but \n shown as an escape (see
 * `escapeControls`), then the styling of `marker` (and only it) turned into real SGR
 * sequences. Stored text cannot carry the marker (it is random per run), so whatever an
 * agent, a model or a webhook put in the store, nothing but `ESC[<digits>m` reaches the
 * terminal, and only where the CLI styled.
 *
 * @example
 * const marker = styleMarker()
 * terminalSafe(createTerminalStyle(true, marker).red(reason), marker)
 */
export function terminalSafe(text: string, marker?: string): string {
  const safe = escapeControls(text, {
    keepNewlines: true,
    ...(marker === undefined ? {} : { marker }),
  })
  if (marker === undefined) return safe
  return safe.replaceAll(new RegExp(`${marker}\\[([0-9;]*)m`, 'g'), '\u001b[$1m')
}
