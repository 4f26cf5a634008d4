// The live timeline: one line per thing worth knowing at 2 AM, stamped with the time since the
// demo started and the agent it concerns. Every line is also kept, so the test can check the
// order in which things happened.
import type { Style } from './style.ts'

/** How a line reads: progress, good news, a warning, an alert, or a stop. */
export type Tone = 'info' | 'ok' | 'warn' | 'alert' | 'stop'

/** One timeline line, as data. */
export interface TimelineEntry {
  /** Milliseconds since the demo started. */
  atMs: number
  /** The agent's handle, or a component such as `webhook` or `search-api`. */
  who: string
  text: string
  tone: Tone
}

/** Prints and records the timeline. */
export interface Timeline {
  line(who: string, text: string, tone?: Tone): TimelineEntry
  readonly entries: readonly TimelineEntry[]
}

const WHO_WIDTH = 21

/**
 * Creates a timeline that writes `+1.234s  who  text` lines.
 *
 * @example
 * const timeline = createTimeline({ write: console.log, style: createStyle(false) })
 * timeline.line('researcher-agent-7', 'revoked', 'stop')
 */
export function createTimeline(options: {
  write: (line: string) => void
  style: Style
  now?: () => number
}): Timeline {
  const { write, style } = options
  const now = options.now ?? (() => performance.now())
  const start = now()
  const entries: TimelineEntry[] = []
  const paint: Record<Tone, (text: string) => string> = {
    info: (text) => text,
    ok: style.green,
    warn: style.yellow,
    alert: (text) => style.bold(style.yellow(text)),
    stop: (text) => style.bold(style.red(text)),
  }
  return {
    entries,
    line(who, text, tone = 'info') {
      const entry = { atMs: now() - start, who, text, tone }
      entries.push(entry)
      const stamp = `+${(entry.atMs / 1000).toFixed(3)}s`.padStart(8)
      write(`${style.dim(stamp)}  ${style.cyan(who.padEnd(WHO_WIDTH))}${paint[tone](text)}`)
      return entry
    },
  }
}
