// Colours only where a person reads them: on a TTY, and never when NO_COLOR is set
// (https://no-color.org). Piped output (`killswitch agents list | grep`) stays plain text.

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

const ansi = (open: number, close: number) => (text: string) =>
  `\u001b[${open}m${text}\u001b[${close}m`

/**
 * Creates the style for one stream.
 *
 * @example
 * const style = createTerminalStyle(shouldUseColour(process.stdout, process.env))
 * console.log(style.red('revoked'))
 */
export function createTerminalStyle(enabled: boolean): TerminalStyle {
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

/** The visible width of a string: ANSI colour codes take no room on screen. */
export function visibleWidth(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
  return text.replace(/\u001b\[[0-9;]*m/g, '').length
}
