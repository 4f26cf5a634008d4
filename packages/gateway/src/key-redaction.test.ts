// The streaming redactor: however a text is cut into pieces, what it passes on is the whole
// text with the key replaced, and it holds back no more than a start of the key.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyRedactor, REDACTED, redactKey } from './key-redaction.js'

const KEY = 'sk-proj-Ab3_xY9-Ab3'

/** The pieces `text` is cut into at `cuts` (positions, in any order, repeats allowed). */
function cut(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const pieces: string[] = []
  let from = 0
  for (const c of at) {
    pieces.push(text.slice(from, c))
    from = c
  }
  pieces.push(text.slice(from))
  return pieces
}

/**
 * Texts with the key (or its starts, or a key overlapping itself) at any positions, among
 * characters the key is made of, so near misses are frequent; multi-byte characters too.
 */
const key = fc.oneof(
  fc.constant(KEY),
  // Keys that overlap themselves: `abab` in `ababab`.
  fc.constant('abab'),
  fc.constant('aaa'),
  fc.string({ unit: fc.constantFrom('a', 'b', '-'), minLength: 1, maxLength: 6 }),
)
const textWith = (k: string) =>
  fc
    .array(
      fc.oneof(
        fc.constant(k),
        fc.integer({ min: 1, max: k.length }).map((n) => k.slice(0, n)),
        fc.integer({ min: 0, max: k.length - 1 }).map((n) => k.slice(n)),
        fc.string({ unit: fc.constantFrom('a', 'b', 's', 'k', '-', '\n', 'é', '🔑') }),
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join(''))

/** A key, a text with it, and where the text is cut into pieces. */
const keyTextCuts = key.chain((k) =>
  fc.tuple(fc.constant(k), textWith(k), fc.array(fc.nat(), { maxLength: 8 })),
)

/** Where the text after the last whole key starts (keys matched left to right, as split). */
function afterLastKey(text: string, k: string): number {
  let from = 0
  for (let at = text.indexOf(k); at !== -1; at = text.indexOf(k, from)) from = at + k.length
  return from
}

describe('KeyRedactor', () => {
  it('passes on exactly text.split(key).join("[redacted]"), however the text is cut', () => {
    fc.assert(
      fc.property(keyTextCuts, ([k, text, cuts]) => {
        const redactor = new KeyRedactor(k)
        let out = ''
        for (const piece of cut(text, cuts)) out += redactor.push(piece)
        out += redactor.flush()
        expect(out).toBe(text.split(k).join(REDACTED))
        expect(out).toBe(redactKey(text, k))
      }),
      { numRuns: 2000 },
    )
  })

  it('holds back only the longest end that may still become the key', () => {
    fc.assert(
      fc.property(keyTextCuts, ([k, text, cuts]) => {
        const redactor = new KeyRedactor(k)
        let seen = ''
        let out = ''
        for (const piece of cut(text, cuts)) {
          seen += piece
          out += redactor.push(piece)
          const held = redactor.flush()
          expect(out + held).toBe(redactKey(seen, k))
          // A proper start of the key, at the end of what came after the last whole key...
          const open = seen.slice(afterLastKey(seen, k))
          expect(held.length).toBeLessThan(k.length)
          expect(k.startsWith(held) && open.endsWith(held)).toBe(true)
          // ...and no longer one: the rest was passed on at once.
          for (let n = held.length + 1; n < k.length && n <= open.length; n++) {
            expect(open.endsWith(k.slice(0, n))).toBe(false)
          }
          // Put back, so the redactor goes on as if nothing had been taken out.
          expect(redactor.push(held)).toBe('')
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('passes an SSE event on at once: nothing held back after its closing blank line', () => {
    const redactor = new KeyRedactor(KEY)
    const event = `data: {"choices":[{"delta":{"content":"echo: Bearer ${KEY}"}}]}\n\n`
    expect(redactor.push(event)).toBe(
      `data: {"choices":[{"delta":{"content":"echo: Bearer ${REDACTED}"}}]}\n\n`,
    )
    expect(redactor.flush()).toBe('')
    // Cut inside the key: the start is held until the rest shows whether it is the key.
    expect(redactor.push('data: sk-pro')).toBe('data: ')
    expect(redactor.push('j-Ab3_xY9-Ab3 and sk-')).toBe(`${REDACTED} and `)
    expect(redactor.push('prose\n\n')).toBe('sk-prose\n\n')
  })

  it('without a key, passes everything on as it comes', () => {
    const redactor = new KeyRedactor(undefined)
    expect(redactor.push('sk-')).toBe('sk-')
    expect(redactor.flush()).toBe('')
    expect(redactKey('sk-x', undefined)).toBe('sk-x')
  })
})
