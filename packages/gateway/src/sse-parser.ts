// Splits a server-sent event stream into whole events, keeping each event's raw text so the
// gateway forwards exactly what the upstream sent. Only `event:` and `data:` are read.

/** One event of an SSE stream. */
export interface SseEvent {
  /** The `event:` field, if any. */
  event: string | undefined
  /** The `data:` lines joined with newlines ('' when there are none). */
  data: string
  /** The event as received, without its terminating blank line. */
  raw: string
}

// Events end at a blank line; CRLF and LF line endings are both legal.
const BOUNDARY = /\r?\n\r?\n/

/** Incremental parser: push bytes, get the events they complete. */
export class SseParser {
  readonly #decoder = new TextDecoder()
  #buffer = ''

  push(chunk: Uint8Array): SseEvent[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true })
    const events: SseEvent[] = []
    for (;;) {
      const match = BOUNDARY.exec(this.#buffer)
      if (!match) break
      const raw = this.#buffer.slice(0, match.index)
      this.#buffer = this.#buffer.slice(match.index + match[0].length)
      if (raw.trim().length > 0) events.push(parseEvent(raw))
    }
    return events
  }

  /** The last event when the stream ended without a blank line after it. */
  flush(): SseEvent | undefined {
    const raw = (this.#buffer + this.#decoder.decode()).replace(/\r?\n$/, '')
    this.#buffer = ''
    return raw.trim().length > 0 ? parseEvent(raw) : undefined
  }
}

function parseEvent(raw: string): SseEvent {
  let event: string | undefined
  const data: string[] = []
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  return { event, data: data.join('\n'), raw }
}

/** Formats one SSE event. */
export function sseEvent(data: unknown, event?: string): string {
  const json = typeof data === 'string' ? data : JSON.stringify(data)
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${json}\n\n`
}
