// Text an agent chose (a tool name, a spend's description, a revocation or approval reason
// quoting them) reaches the operator's browser. The page sets it with textContent, so it is
// never markup, but a bidi override still reorders what it appears to say ("search\u202E10.0$
// rof" reads "searchfor $0.01" beside a $40 charge) and a zero-width character hides. So
// every string the console sends is escaped server-side the way the CLI escapes it for a
// terminal (`escapeControls`), plus the invisible characters a page renders as nothing
// that a terminal shows: the page and the CLI then read alike.

import { escapeControls } from '../terminal-style.js'

// Beyond the CLI's set: the soft hyphen, combining grapheme joiner, Arabic letter mark (a bidi
// mark), Hangul and Khmer fillers, Mongolian vowel separator, word joiner and invisible
// operators (U+2060-U+2064), deprecated formatting (U+206A-U+206F), interlinear annotation
// marks and the tag characters (U+E0000-U+E007F, invisible ASCII look-alikes).
const INVISIBLE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: each is matched alone, combining or not: that is the point
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u2060-\u2064\u206a-\u206f\u3164\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu

/** One line of agent-influenced text, every control, bidi and invisible character escaped. */
export function displayText(text: string): string {
  return escapeControls(text).replace(INVISIBLE, (char) => {
    const code = char.codePointAt(0) ?? 0
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** `value` with every string in it (keys included) passed through `displayText`. */
export function displaySafe<T>(value: T): T {
  if (typeof value === 'string') return displayText(value) as T
  if (Array.isArray(value)) return value.map(displaySafe) as T
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [displayText(key), displaySafe(inner)]),
    ) as T
  }
  return value
}
