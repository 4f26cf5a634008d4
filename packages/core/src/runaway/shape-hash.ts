// The shape of a tool call's arguments: what is left once everything a loop varies to look
// new is taken out. Loops rarely repeat byte for byte; they add a counter, a timestamp or a
// request id, change the case or the spacing, reorder keys, or reword a query. Two calls
// with the same shape are "similar": weaker evidence than identical arguments (honest
// pagination has one shape too), so the detectors act on it more gently (a throttle).
//
// Normalised: key order (as the canonical hash), every number, in strings: case, spacing and
// punctuation, uuids, and every word that holds a digit (counters, dates, times, ids, hex);
// then the words of a string are stemmed crudely, function words dropped, and the rest
// sorted and deduplicated, so that a reordered or lightly reworded query has the same shape.
// Synonyms are not caught: a paraphrase that changes every word is a new query to a hash.

const MAX_DEPTH = 32
/** Longer strings are cut: the first few hundred characters tell a loop apart well enough. */
const MAX_STRING = 512

const STOPWORDS = new Set(
  'a an the of for in on at to by from with about and or is are was were be what which how who why when where do does did please me my i you your it its this that these those some any'.split(
    ' ',
  ),
)

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g

/**
 * The shape of `value` as 16 hex digits (see the file comment for what is normalised): two
 * values have the same shape hash exactly when their `shapeText` is the same (up to hash
 * collisions). It runs on every tool call, so it mixes the value in directly, as the
 * canonical hash does, instead of building the text: each string's words are hashed one by
 * one and combined by a sum, which neither order nor repetition changes.
 *
 * @example
 * shapeHash({ q: 'LLM  pricing', n: 1 }) === shapeHash({ n: 2, q: 'pricing llm' }) // true
 */
export function shapeHash(value: unknown): string {
  const saved1 = h1
  const saved2 = h2
  h1 = SEED1
  h2 = SEED2
  mixShape(value, 0)
  const digest = finish()
  h1 = saved1
  h2 = saved2
  return digest
}

/**
 * The normalised text the shape hash is taken of (for tests and for people).
 *
 * @example
 * shapeText({ query: 'What are the best LLM prices in 2026?', ts: 1767225600000 })
 * // '{"query":"# best llm pric","ts":#}'
 */
export function shapeText(value: unknown): string {
  return write(value, 0)
}

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return `"${words(value)}"`
    case 'number':
    case 'bigint':
      return '#'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null'
  }
  if (value === null) return 'null'
  if (depth >= MAX_DEPTH) return '"…"'
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return write(toJSON.call(value), depth + 1)
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + write(value[i], depth + 1)
    return `${out}]`
  }
  const object = value as Record<string, unknown>
  const keys = Object.keys(object)
  if (keys.length > 1) keys.sort()
  let out = '{'
  let first = true
  for (const key of keys) {
    const inner = object[key]
    if (inner === undefined || typeof inner === 'function' || typeof inner === 'symbol') continue
    out += `${first ? '' : ','}"${key.toLowerCase()}":${write(inner, depth + 1)}`
    first = false
  }
  return `${out}}`
}

/** The sorted, deduplicated, stemmed content words of `text`; `#` for any word with a digit. */
function words(text: string): string {
  let source = (text.length > MAX_STRING ? text.slice(0, MAX_STRING) : text).toLowerCase()
  if (source.length >= 36 && source.indexOf('-') !== -1) source = source.replace(UUID, '0')
  const found: string[] = []
  const length = source.length
  let start = -1
  let digit = false
  for (let i = 0; i <= length; i++) {
    const code = i < length ? source.charCodeAt(i) : 32
    const isDigit = code >= 48 && code <= 57
    // Letters, digits and anything outside ASCII (other scripts) make up words.
    if (isDigit || (code >= 97 && code <= 122) || code > 127) {
      if (start < 0) start = i
      if (isDigit) digit = true
      continue
    }
    if (start < 0) continue
    if (digit) found.push('#')
    else {
      const word = source.slice(start, i)
      if (!STOPWORDS.has(word)) found.push(i - start > 3 ? stem(word) : word)
    }
    start = -1
    digit = false
  }
  if (found.length === 0) return ''
  if (found.length === 1) return found[0] as string
  found.sort()
  let out = found[0] as string
  for (let i = 1; i < found.length; i++) {
    const item = found[i] as string
    if (item !== found[i - 1]) out += ` ${item}`
  }
  return out
}

/** A crude English stem: prices, pricing and price all give `pric`. */
function stem(word: string): string {
  if (word.length <= 3) return word
  let out = word
  if (out.endsWith('ing') && out.length > 5) out = out.slice(0, -3)
  else if (out.endsWith('ies') && out.length > 4) out = `${out.slice(0, -3)}y`
  else if (out.endsWith('es') && out.length > 4) out = out.slice(0, -2)
  else if (out.endsWith('ed') && out.length > 4) out = out.slice(0, -2)
  else if (out.endsWith('s') && !out.endsWith('ss')) out = out.slice(0, -1)
  if (out.endsWith('e') && out.length > 3) out = out.slice(0, -1)
  return out
}

// The direct hash. It mirrors `write` and `words` exactly: a test holds the two to the same
// equality classes.

const SEED1 = 0x9e3779b9
const SEED2 = 0x85ebca6b
let h1 = SEED1
let h2 = SEED2

// Structure tags lie above every UTF-16 code unit, so the mixed sequence is prefix-free.
const TAG_NULL = 0x10001
const TAG_TRUE = 0x10002
const TAG_FALSE = 0x10003
const TAG_NUMBER = 0x10004
const TAG_STRING = 0x10005
const TAG_ARRAY = 0x10006
const TAG_OBJECT = 0x10007
const TAG_KEY = 0x10008
const TAG_END = 0x10009
const TAG_TOO_DEEP = 0x1000a

function mix(code: number): void {
  h1 = Math.imul(h1 ^ code, 2654435761)
  h2 = Math.imul(h2 ^ code, 1597334677)
}

function finish(): string {
  let a = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  a ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  let b = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  b ^= Math.imul(a ^ (a >>> 13), 3266489909)
  return hex8(b) + hex8(a)
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

function hex8(n: number): string {
  return (
    (HEX[n >>> 24] as string) +
    (HEX[(n >>> 16) & 0xff] as string) +
    (HEX[(n >>> 8) & 0xff] as string) +
    (HEX[n & 0xff] as string)
  )
}

function mixShape(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      mixWords(value)
      return
    case 'number':
    case 'bigint':
      mix(TAG_NUMBER)
      return
    case 'boolean':
      mix(value ? TAG_TRUE : TAG_FALSE)
      return
    case 'undefined':
    case 'function':
    case 'symbol':
      mix(TAG_NULL)
      return
  }
  if (value === null) {
    mix(TAG_NULL)
    return
  }
  if (depth >= MAX_DEPTH) {
    mix(TAG_TOO_DEEP)
    return
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    mixShape(toJSON.call(value), depth + 1)
    return
  }
  if (Array.isArray(value)) {
    mix(TAG_ARRAY)
    for (let i = 0; i < value.length; i++) mixShape(value[i], depth + 1)
    mix(TAG_END)
    return
  }
  const object = value as Record<string, unknown>
  const keys = Object.keys(object)
  if (keys.length > 1) keys.sort()
  mix(TAG_OBJECT)
  for (const key of keys) {
    const inner = object[key]
    if (inner === undefined || typeof inner === 'function' || typeof inner === 'symbol') continue
    mix(TAG_KEY)
    mixKey(key)
    mixShape(inner, depth + 1)
  }
  mix(TAG_END)
}

/** Mixes a key's characters, lower-cased: `mix` per character, in local variables (faster). */
function mixKey(key: string): void {
  let a = h1
  let b = h2
  for (let i = 0; i < key.length; i++) {
    const code = lower(key.charCodeAt(i))
    a = Math.imul(a ^ code, 2654435761)
    b = Math.imul(b ^ code, 1597334677)
  }
  h1 = a
  h2 = b
}

/** ASCII lower case of one UTF-16 code unit (as toLowerCase does for ASCII). */
function lower(code: number): number {
  return code >= 65 && code <= 90 ? code + 32 : code
}

const MAX_STOPWORD = Math.max(...[...STOPWORDS].map((word) => word.length))
const STOPWORD_KEYS = new Set([...STOPWORDS].map((word) => wordKey(word, 0, word.length, false)))
const DIGIT_WORD = 0x7fff_fffe
/** The distinct words of the string being mixed (reused: strings are mixed one at a time). */
const seen: number[] = []

/** The key of `text[start, end)` (lower-cased), plus a `y` when `withY`. */
function wordKey(text: string, start: number, end: number, withY: boolean): number {
  let a = 0x811c9dc5
  for (let i = start; i < end; i++) a = Math.imul(a ^ lower(text.charCodeAt(i)), 16777619)
  if (withY) a = Math.imul(a ^ 121, 16777619)
  // Keep clear of the digit word's key.
  return a >>> 1
}

function mixWords(text: string): void {
  let source = text.length > MAX_STRING ? text.slice(0, MAX_STRING) : text
  if (source.length >= 36 && source.indexOf('-') !== -1) {
    const lowered = source.toLowerCase()
    UUID.lastIndex = 0
    if (UUID.test(lowered)) source = lowered.replace(UUID, '0')
  }
  // Lower case beyond ASCII needs toLowerCase: done once, only for strings that need it.
  for (let i = 0; i < source.length; i++) {
    if (source.charCodeAt(i) > 127) {
      source = source.toLowerCase()
      break
    }
  }
  seen.length = 0
  const length = source.length
  let start = -1
  let digit = false
  let wordsA = 0
  let wordsB = 0
  for (let i = 0; i <= length; i++) {
    const code = i < length ? lower(source.charCodeAt(i)) : 32
    const isDigit = code >= 48 && code <= 57
    if (isDigit || (code >= 97 && code <= 122) || code > 127) {
      if (start < 0) start = i
      if (isDigit) digit = true
      continue
    }
    if (start < 0) continue
    let key = DIGIT_WORD
    if (!digit) {
      const size = i - start
      // A word over 3 letters is keyed by its stem: its whole-word key is needed only for
      // the stop word check, and only as short as the longest stop word.
      if (size <= MAX_STOPWORD) {
        key = wordKey(source, start, i, false)
        if (STOPWORD_KEYS.has(key)) {
          start = -1
          continue
        }
      }
      if (size > 3) key = stemKey(source, start, i)
    }
    start = -1
    digit = false
    if (seen.includes(key)) continue
    seen.push(key)
    // A sum of mixed keys: the same for any order of the same words.
    wordsA = (wordsA + Math.imul(key ^ (key >>> 15), 2246822507)) | 0
    wordsB = (wordsB + Math.imul(key ^ (key >>> 13), 3266489909)) | 0
  }
  mix(TAG_STRING)
  mix(seen.length & 0xffff)
  mix(wordsA & 0xffff)
  mix(wordsA >>> 16)
  mix(wordsB & 0xffff)
  mix(wordsB >>> 16)
}

/** The key of the stem of `text[start, end)`, as `stem` cuts it (the word is over 3 letters). */
function stemKey(text: string, start: number, end: number): number {
  const length = end - start
  const c1 = lower(text.charCodeAt(end - 1))
  const c2 = lower(text.charCodeAt(end - 2))
  const c3 = lower(text.charCodeAt(end - 3))
  let cut = 0
  let withY = false
  if (length > 5 && c3 === 105 && c2 === 110 && c1 === 103)
    cut = 3 // -ing
  else if (length > 4 && c3 === 105 && c2 === 101 && c1 === 115) {
    cut = 3 // -ies -> -y
    withY = true
  } else if (length > 4 && c2 === 101 && c1 === 115)
    cut = 2 // -es
  else if (length > 4 && c2 === 101 && c1 === 100)
    cut = 2 // -ed
  else if (c1 === 115 && c2 !== 115) cut = 1 // -s, not -ss
  let stemEnd = end - cut
  // Then a final -e goes (never after the y of -ies).
  if (!withY && stemEnd - start > 3 && lower(text.charCodeAt(stemEnd - 1)) === 101) stemEnd--
  return wordKey(text, start, stemEnd, withY)
}
