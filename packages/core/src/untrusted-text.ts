// Strings others wrote (a payee's 402 and settlement header, an error a remote service sent),
// made fit for the audit log and an error message: the log must neither grow with them (one
// payment, kilobytes of junk) nor show a line they forged (a newline, then "[killswitch] ...").

/** The most characters one string from outside takes in the audit log. */
export const TEXT_MAX = 200

// C0 and C1 controls, line and paragraph separators, and the bidirectional overrides that
// reorder what a reader sees.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * `value` when a string: its unprintable characters escaped (`\n` as `\u000a`), cut to `max`
 * characters (the last one `…` when cut); anything else undefined.
 *
 * @example
 * boundedText('ok\n[killswitch] revoked') // 'ok\\u000a[killswitch] revoked'
 */
export function boundedText(value: unknown, max = TEXT_MAX): string | undefined {
  if (typeof value !== 'string') return undefined
  // Cut before escaping too: a megabyte string is not escaped whole to keep 200 characters.
  const escaped = value
    .slice(0, max + 1)
    .replace(UNPRINTABLE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped
}

/**
 * Any value as a message quotes what was given: JSON (`"0.5"` is a string, `[0.5]` a list),
 * numbers as JavaScript writes them (`NaN`), bounded (80 characters) and printable.
 *
 * @example
 * quotedValue([0.5]) // '[0.5]'
 */
export function quotedValue(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'number' || value === undefined) return String(value)
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    // Circular, or holding a bigint.
  }
  return boundedText(json ?? Object.prototype.toString.call(value), 80) ?? ''
}

/**
 * A field from outside for the audit log and a message: a string as itself, bounded and
 * printable; anything else as `quotedValue` quotes it (a payee may put a number where a
 * string belongs).
 *
 * @example
 * shownText('0xabc') // '0xabc'
 * shownText(5) // '5'
 */
export function shownText(value: unknown): string {
  return boundedText(value) ?? quotedValue(value)
}
