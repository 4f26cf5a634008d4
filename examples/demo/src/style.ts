// Terminal colours, only where they help: on a TTY, and never when NO_COLOR is set
// (https://no-color.org). Off, every function returns its text unchanged.

/** The colours the demo uses. */
export interface Style {
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
 * createStyle(shouldColour(process.stdout, process.env))
 */
export function shouldColour(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === ''
}

/**
 * The demo's colours, on or off.
 *
 * @example
 * const style = createStyle(true)
 * console.log(style.red('revoked'))
 */
export function createStyle(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  }
}
