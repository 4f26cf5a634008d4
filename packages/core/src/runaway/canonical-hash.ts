// Tool arguments and model outputs are compared by hash: the activity window (which may live
// in Redis, shared by a fleet) holds names and hashes, never values. The hash is of the
// canonical JSON form (keys sorted at every level), so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }`
// are the same call.
//
// The hash is a fast non-cryptographic 64-bit one (cyrb53's mixing on two 32-bit lanes): it
// only has to tell apart the few hundred calls in one agent's window, it is not a security
// boundary (an agent that wants to dodge loop detection can simply vary its arguments), and
// a node:crypto hash costs about a microsecond in setup alone, the whole budget of an
// observation.

/** Nesting deeper than this is summarised: tool arguments are never legitimately that deep. */
const MAX_DEPTH = 64

/**
 * JSON with object keys sorted at every level, so that key order never matters. Values JSON
 * cannot represent are made explicit rather than dropped: `undefined` in arrays becomes
 * `null` (as JSON does), bigints become `"<digits>n"`, cycles become `"[Circular]"`.
 *
 * @example
 * canonicalJson({ b: [2, { d: 1, c: 0 }], a: 'x' }) // '{"a":"x","b":[2,{"c":0,"d":1}]}'
 */
export function canonicalJson(value: unknown): string {
  return write(value, [], 0) ?? 'null'
}

/**
 * The hash of `value`'s canonical form, as 16 hex digits: two values have the same hash
 * exactly when their `canonicalJson` is the same (up to hash collisions). It walks the value
 * and mixes it in directly, without building the JSON text, because it runs on every tool
 * call.
 *
 * @example
 * canonicalHash({ query: 'llm pricing', page: 1 }) === canonicalHash({ page: 1, query: 'llm pricing' }) // true
 */
export function canonicalHash(value: unknown): string {
  // Saved and restored so that a toJSON that itself hashes something cannot corrupt it.
  const saved1 = h1
  const saved2 = h2
  h1 = SEED1
  h2 = SEED2
  mixValue(value, [], 0, true)
  const digest = finish()
  h1 = saved1
  h2 = saved2
  return digest
}

/**
 * A fast 64-bit non-cryptographic hash of a string, as 16 hex digits.
 *
 * @example
 * hashString('search') // e.g. '5c9a1f0e3b2d4a67'
 */
export function hashString(text: string): string {
  const saved1 = h1
  const saved2 = h2
  let a = SEED1
  let b = SEED2
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    a = Math.imul(a ^ ch, 2654435761)
    b = Math.imul(b ^ ch, 1597334677)
  }
  h1 = a
  h2 = b
  const digest = finish()
  h1 = saved1
  h2 = saved2
  return digest
}

const SEED1 = 0xdeadbeef
const SEED2 = 0x41c6ce57
let h1 = SEED1
let h2 = SEED2

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

// Structure tags lie above every UTF-16 code unit and every 16-bit length half, so the mixed
// sequence is prefix-free: distinct canonical forms give distinct sequences.
const TAG_NULL = 0x10001
const TAG_TRUE = 0x10002
const TAG_FALSE = 0x10003
const TAG_NUMBER = 0x10004
const TAG_STRING = 0x10005
const TAG_ARRAY = 0x10006
const TAG_OBJECT = 0x10007
const TAG_KEY = 0x10008
const TAG_END = 0x10009

function mixText(text: string): void {
  // Local copies: the module-level state is a context slot, slower to touch per character.
  let a = Math.imul(h1 ^ (text.length & 0xffff), 2654435761)
  let b = Math.imul(h2 ^ (text.length & 0xffff), 1597334677)
  a = Math.imul(a ^ (text.length >>> 16), 2654435761)
  b = Math.imul(b ^ (text.length >>> 16), 1597334677)
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    a = Math.imul(a ^ ch, 2654435761)
    b = Math.imul(b ^ ch, 1597334677)
  }
  h1 = a
  h2 = b
}

/** Mirrors `write`: returns false for what JSON leaves out of objects. */
function mixValue(value: unknown, path: object[], depth: number, inArray: boolean): boolean {
  switch (typeof value) {
    case 'string':
      mix(TAG_STRING)
      mixText(value)
      return true
    case 'number':
      if (!Number.isFinite(value)) {
        mix(TAG_NULL)
      } else {
        mix(TAG_NUMBER)
        mixText(String(value === 0 ? 0 : value))
      }
      return true
    case 'boolean':
      mix(value ? TAG_TRUE : TAG_FALSE)
      return true
    case 'bigint':
      mix(TAG_STRING)
      mixText(`${value}n`)
      return true
    case 'undefined':
    case 'function':
    case 'symbol':
      if (inArray) mix(TAG_NULL)
      return inArray
  }
  if (value === null) {
    mix(TAG_NULL)
    return true
  }
  const object = value as object
  if (path.includes(object)) return mixValue('[Circular]', path, depth, inArray)
  if (depth >= MAX_DEPTH) return mixValue('[Too deep]', path, depth, inArray)
  const toJSON = (object as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return mixValue(toJSON.call(object), path, depth + 1, inArray)
  if (object instanceof Map) return mixValue(Object.fromEntries(object), path, depth + 1, inArray)
  if (object instanceof Set) return mixValue([...object], path, depth + 1, inArray)
  path.push(object)
  if (Array.isArray(object)) {
    mix(TAG_ARRAY)
    for (let i = 0; i < object.length; i++) mixValue(object[i], path, depth + 1, true)
  } else {
    mix(TAG_OBJECT)
    const keys = Object.keys(object)
    if (keys.length > 1) keys.sort()
    for (const key of keys) {
      let inner = (object as Record<string, unknown>)[key]
      let type = typeof inner
      if (type === 'object' && inner !== null) {
        // Resolved here, as JSON does, so that a toJSON giving undefined drops the key.
        const innerToJSON = (inner as { toJSON?: unknown }).toJSON
        if (typeof innerToJSON === 'function') {
          inner = innerToJSON.call(inner)
          type = typeof inner
        }
      }
      if (type === 'undefined' || type === 'function' || type === 'symbol') continue
      mix(TAG_KEY)
      mixText(key)
      mixValue(inner, path, depth + 1, false)
    }
  }
  mix(TAG_END)
  path.pop()
  return true
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

/** 8 hex digits; a table beats `toString(16).padStart` by a wide margin on the hot path. */
function hex8(n: number): string {
  return (
    (HEX[n >>> 24] as string) +
    (HEX[(n >>> 16) & 0xff] as string) +
    (HEX[(n >>> 8) & 0xff] as string) +
    (HEX[n & 0xff] as string)
  )
}

/** Returns undefined for what JSON leaves out of objects (undefined, functions, symbols). */
function write(value: unknown, path: object[], depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? String(value === 0 ? 0 : value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return `"${value}n"`
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined
  }
  if (value === null) return 'null'
  const object = value as object
  if (path.includes(object)) return '"[Circular]"'
  if (depth >= MAX_DEPTH) return '"[Too deep]"'
  const toJSON = (object as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return write(toJSON.call(object), path, depth + 1)
  if (object instanceof Map) return write(Object.fromEntries(object), path, depth + 1)
  if (object instanceof Set) return write([...object], path, depth + 1)
  path.push(object)
  let out: string
  if (Array.isArray(object)) {
    out = '['
    for (let i = 0; i < object.length; i++) {
      if (i > 0) out += ','
      out += write(object[i], path, depth + 1) ?? 'null'
    }
    out += ']'
  } else {
    const keys = Object.keys(object).sort()
    out = '{'
    let first = true
    for (const key of keys) {
      const inner = write((object as Record<string, unknown>)[key], path, depth + 1)
      if (inner === undefined) continue
      out += `${first ? '' : ','}${JSON.stringify(key)}:${inner}`
      first = false
    }
    out += '}'
  }
  path.pop()
  return out
}
