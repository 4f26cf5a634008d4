// Masking the provider key in what the gateway passes on to an agent. An upstream that echoes
// the request's headers (a debugging proxy, a model server reflecting its `authorization`)
// must not hand the agent the one secret gateway mode keeps from it.
//
// Matching is on the key as sent: real provider keys are ASCII letters, digits, `_` and `-`,
// which JSON leaves unescaped, so a key quoted inside a JSON body or an SSE event's JSON
// appears verbatim. A key re-encoded on purpose (split across stream deltas, escaped as
// `\u0073k-...`, base64) is not matched: an upstream that means to leak the key it was sent
// can always do so, and no redaction of its answers could stop it.

/** What the key is replaced with. */
export const REDACTED = '[redacted]'

/** `text` with every occurrence of `key` (none when there is no key) replaced. */
export function redactKey(text: string, key: string | undefined): string {
  return key ? text.split(key).join(REDACTED) : text
}

/**
 * Redacts a text that arrives in pieces (a stream), where the key may be split between
 * pieces. Whatever `push` returns, followed by what `flush` returns, is exactly
 * `redactKey(whole text, key)`. Only the end of a piece that could still be the start of the
 * key is held back (at most key.length - 1 characters, and none when the piece ends in
 * something no key starts with, such as an SSE event's closing blank line), so nothing is
 * delayed longer than the key's own completion needs.
 */
export class KeyRedactor {
  readonly #key: string | undefined
  /** The held back end of the text: a proper prefix of the key. */
  #carry = ''

  constructor(key: string | undefined) {
    this.#key = key || undefined
  }

  /** The redacted text that can be passed on now. */
  push(piece: string): string {
    const key = this.#key
    if (key === undefined) return piece
    const text = this.#carry + piece
    // Left to right, as split() matches: the whole keys first, then the held-back end.
    let out = ''
    let from = 0
    for (let at = text.indexOf(key); at !== -1; at = text.indexOf(key, from)) {
      out += text.slice(from, at) + REDACTED
      from = at + key.length
    }
    const hold = heldStart(text, from, key)
    this.#carry = text.slice(hold)
    return out + text.slice(from, hold)
  }

  /** The end that was held back: the text ended without completing the key. */
  flush(): string {
    const rest = this.#carry
    this.#carry = ''
    return rest
  }
}

/**
 * Where the longest end of `text` (from `from` on, which holds no whole key) that is a proper
 * prefix of `key` starts; `text.length` when there is none.
 */
function heldStart(text: string, from: number, key: string): number {
  const first = key[0] as string
  let at = text.indexOf(first, Math.max(from, text.length - key.length + 1))
  while (at !== -1) {
    if (key.startsWith(text.slice(at))) return at
    at = text.indexOf(first, at + 1)
  }
  return text.length
}
