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
// And field by field: two calls that differ only in a field no loop needs to keep the same
// have one shape, as long as another field is left to compare: a free-text field beside the
// real arguments (`explanation`, `reason`, `thought`...: Cursor-style tools ask the model
// why it calls them, and it words that differently every time) is left out, and a
// letters-only random token (a request id or nonce with no digit: an id field's value of 6
// letters or more, or any field's of 8 or more with letter pairs English rarely has) counts
// as an id. A search whose query changes is a new search, whatever its other fields.

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
  const trim = keys.length > 1 && hasVolatileFields(object, keys)
  let out = '{'
  let first = true
  for (const key of keys) {
    const inner = object[key]
    if (inner === undefined || typeof inner === 'function' || typeof inner === 'symbol') continue
    const kind = trim ? fieldKind(key, inner) : PLAIN
    if (kind === FREE_TEXT) continue
    const shown = kind === NONCE ? AN_ID : inner
    out += `${first ? '' : ','}"${key.toLowerCase()}":${write(shown, depth + 1)}`
    first = false
  }
  return `${out}}`
}

// Fields no loop needs to keep the same: what a field is to the shape.
const PLAIN = 0
/** A free-text field beside the real arguments: left out. */
const FREE_TEXT = 1
/** A letters-only random token: an id, as a word with a digit is. */
const NONCE = 2
/** What a nonce is replaced by: a word with a digit (normalised to `#`). */
const AN_ID = '0'

/** Keys (lower case, letters only) of free-text fields: the model's account of the call. */
const FREE_TEXT_KEYS = new Set(
  'explanation reason reasoning rationale thought thoughts thinking justification motivation'.split(
    ' ',
  ),
)
/** Keys (lower case, letters only) of fields holding an id, besides `id`, `fooId`, `foo_id`. */
const ID_KEYS = new Set('nonce salt uuid guid cachebuster'.split(' '))

/**
 * Whether `object` has a free-text or nonce field and a plain one: only then is anything
 * left out (a `think({ thought })` call keeps its thought, a lone token is the argument).
 */
function hasVolatileFields(object: Record<string, unknown>, keys: readonly string[]): boolean {
  let volatile = false
  let plain = false
  for (const key of keys) {
    const inner = object[key]
    if (inner === undefined || typeof inner === 'function' || typeof inner === 'symbol') continue
    const kind = fieldKind(key, inner)
    // Only a field a loop could vary keeps calls apart once the rest is left out: a string or
    // a structure, not a number or a flag (normalised away: `sequentialthinking`'s
    // `thoughtNumber` and `nextThoughtNeeded` beside its `thought`).
    if (kind !== PLAIN) volatile = true
    else if (typeof inner === 'string' || (typeof inner === 'object' && inner !== null))
      plain = true
    if (plain && volatile) return true
  }
  return false
}

function fieldKind(key: string, value: unknown): number {
  if (typeof value !== 'string') return PLAIN
  const letters = lettersOf(key)
  if (FREE_TEXT_KEYS.has(letters)) return FREE_TEXT
  if (value.length < 6 || value.length > 64 || !isLettersOnly(value)) return PLAIN
  if (isIdKey(key, letters)) return NONCE
  return value.length >= 8 && looksRandom(value) ? NONCE : PLAIN
}

/** `key` in lower case, letters only: `request_id` and `requestId` give `requestid`. */
function lettersOf(key: string): string {
  // Most keys are lower-case letters already: no copy made for them.
  let plain = key.length <= 32
  for (let i = 0; plain && i < key.length; i++) {
    const code = key.charCodeAt(i)
    plain = code >= 97 && code <= 122
  }
  if (plain) return key
  return key.length > 32 ? '' : key.toLowerCase().replace(/[^a-z]/g, '')
}

/** `id`, `requestId`, `request_id`, `trace-ID`, `nonce`... (not `paid` or `valid`). */
function isIdKey(key: string, letters: string): boolean {
  if (letters === 'id' || ID_KEYS.has(letters)) return true
  const n = key.length
  if (n < 3) return false
  const i = key.charCodeAt(n - 2)
  const d = key.charCodeAt(n - 1)
  const before = key.charCodeAt(n - 3)
  // fooId, fooID: a capital I after a lower-case letter; foo_id, foo-id: a separator first.
  if (i === 73 && (d === 100 || d === 68)) return before >= 97 && before <= 122
  return i === 105 && d === 100 && (before === 95 || before === 45)
}

function isLettersOnly(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i) | 32
    if (code < 97 || code > 122) return false
  }
  return true
}

// The ~300 commonest letter pairs of English words (and of the identifiers in technical
// prose), by first letter: `a:bc` is `ab` and `ac`. A random token of letters has many pairs
// outside them; a word, even a long one, few (tested on 4,400 words of 8 letters or more
// from package documentation: 0.75% taken for random, mostly people's handles; 10 random
// letters are taken for random 92% of the time, 16 letters 95%).
const COMMON_PAIRS =
  'a:bcdfgiklmnprstuvwxy b:aeilorsuy c:acehiklorstuy d:abcdefgilorstuy ' +
  'e:abcdefghilmnopqrstuvwxy f:aefilortuy g:aeghilnorsu h:aeiortu i:abcdefglmnoprstvz j:es ' +
  'k:aefis l:acdeilmopstuvy m:abceimopsuy n:acdefgiklmnopstuvy o:abcdfgiklmnoprstuvwxy ' +
  'p:aehiloprstu q:u r:abcdegiklmnoprstuvy s:acehiklmopstuwy t:acdefhilmnoprstuwy ' +
  'u:abcdegilmnprst v:aeio w:aehinors x:ceipt y:aeimnpst z:ae'
const COMMON = new Uint8Array(26 * 26)
for (const group of COMMON_PAIRS.split(' ')) {
  const first = group.charCodeAt(0) - 97
  for (let i = 2; i < group.length; i++) COMMON[first * 26 + group.charCodeAt(i) - 97] = 1
}

/** A letters-only token with at least 3, and 30%, of its letter pairs rare in English. */
function looksRandom(token: string): boolean {
  let rare = 0
  let previous = (token.charCodeAt(0) | 32) - 97
  for (let i = 1; i < token.length; i++) {
    const letter = (token.charCodeAt(i) | 32) - 97
    if (COMMON[previous * 26 + letter] === 0) rare++
    previous = letter
  }
  return rare >= 3 && rare * 10 >= (token.length - 1) * 3
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
  const trim = keys.length > 1 && hasVolatileFields(object, keys)
  mix(TAG_OBJECT)
  for (const key of keys) {
    const inner = object[key]
    if (inner === undefined || typeof inner === 'function' || typeof inner === 'symbol') continue
    const kind = trim ? fieldKind(key, inner) : PLAIN
    if (kind === FREE_TEXT) continue
    mix(TAG_KEY)
    mixKey(key)
    mixShape(kind === NONCE ? AN_ID : inner, depth + 1)
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
