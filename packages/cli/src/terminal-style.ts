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
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * Shows every control character as a visible escape: C0 as `\x1b`, DEL and C1 as `\u009b`
 * (so JSON text stays valid JSON). `keepNewlines` lets `\n` through (whole output);
 * without it, text stays on its one line (a table cell, a reason quoted in a sentence).
 *
 * @example
 * escapeControls('search\u001b]52;c;cm0=\u0007') // 'search\\x1b]52;c;cm0=\\x07'
 */
export function escapeControls(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(CONTROL, (char) => {
    if (char === '\n' && options.keepNewlines) return char
    const code = char.charCodeAt(0)
    const hex = code.toString(16).padStart(2, '0')
    return code < 0x20 ? `\\x${hex}` : `\\u00${hex}`
  })
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
  const safe = escapeControls(text, { keepNewlines: true })
  if (marker === undefined) return safe
  return safe.replaceAll(new RegExp(`${marker}\\[([0-9;]*)m`, 'g'), '\u001b[$1m')
}
