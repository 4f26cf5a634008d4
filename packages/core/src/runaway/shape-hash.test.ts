import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalHash } from './canonical-hash.js'
import { shapeHash, shapeText } from './shape-hash.js'

const same = (a: unknown, b: unknown) => shapeHash(a) === shapeHash(b)

describe('shapeHash', () => {
  it('ignores what loops vary: numbers, counters in text, timestamps, uuids, hex ids', () => {
    expect(same({ q: 'acme', attempt: 1 }, { q: 'acme', attempt: 2 })).toBe(true)
    expect(same({ q: 'acme (try 2)' }, { q: 'acme (try 13)' })).toBe(true)
    expect(same({ since: '2026-01-01T10:00:00.000Z' }, { since: '2026-03-09T23:59:59Z' })).toBe(
      true,
    )
    expect(
      same(
        { requestId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
        { requestId: 'beefcafe-abcd-4def-aaaa-bbbbccccdddd' },
      ),
    ).toBe(true)
    expect(same({ ref: 'req_8f3a9c2e11' }, { ref: 'req_00b1d7e4f2' })).toBe(true)
  })

  it('ignores case, spacing, punctuation, key order, function words, plurals and word order', () => {
    const variants = [
      { query: 'acme corp pricing plans' },
      { query: 'What are the pricing plans of Acme Corp?' },
      { query: 'acme corp plan prices' },
      { query: 'ACME  corp:\tpricing, plans' },
    ]
    for (const variant of variants) expect(shapeHash(variant)).toBe(shapeHash(variants[0]))
    expect(same({ q: 'please list the prices' }, { q: 'Prices, list' })).toBe(true)
    expect(same({ a: 1, b: 'x' }, { b: 'X', a: 2 })).toBe(true)
    expect(same({ Query: 'x' }, { query: 'x' })).toBe(true)
  })

  it('tells apart different words, different keys and different structure', () => {
    expect(same({ q: 'acme pricing' }, { q: 'globex pricing' })).toBe(false)
    expect(same({ q: 'acme' }, { query: 'acme' })).toBe(false)
    expect(same({ q: ['a', 'b'] }, { q: 'a b' })).toBe(false)
    expect(same({ q: true }, { q: false })).toBe(false)
    expect(same({ url: 'https://acme.dev/pricing' }, { url: 'https://acme.dev/careers' })).toBe(
      false,
    )
  })

  it('is coarser than the canonical hash, never finer: identical arguments have one shape', () => {
    const args = { query: 'llm pricing 2026', page: 3, filters: { lang: 'en', safe: true } }
    expect(shapeHash({ ...args })).toBe(shapeHash(args))
    expect(canonicalHash({ ...args, page: 4 })).not.toBe(canonicalHash(args))
    expect(shapeHash({ ...args, page: 4 })).toBe(shapeHash(args))
  })

  it('compares field by field: a free-text explanation or a letters-only nonce beside the arguments is left out', () => {
    const query = 'acme corp pricing'
    // A Cursor-style tool asks the model to explain each call: worded anew every time.
    expect(
      same(
        { query, explanation: 'Searching for the pricing page' },
        { query, explanation: 'Let me look up the pricing again, carefully' },
      ),
    ).toBe(true)
    expect(same({ query, reason: 'first try' }, { query, Reasoning: 'once more' })).toBe(true)
    // A request id of letters only: by its field's name, or by letter pairs no word has.
    expect(same({ query, request_id: 'qwhzkxpvma' }, { query, request_id: 'mbtrplvqzx' })).toBe(
      true,
    )
    expect(same({ query, requestId: 'abcdef' }, { query, requestId: 'ghijkl' })).toBe(true)
    expect(same({ query, tag: 'xkqzvbwjtp' }, { query, tag: 'pfgqxzwkvd' })).toBe(true)
    expect(shapeText({ query, explanation: 'why', request_id: 'qwhzkxpvma' })).toBe(
      '{"query":"acm corp pric","request_id":"#"}',
    )
  })

  it('keeps what a call is about: a new query, a real word, a lone free-text or id field', () => {
    const queries = ['acme pricing', 'acme enterprise plan cost', 'acme sso support', 'acme gdpr']
    const shapes = new Set(queries.map((query) => shapeHash({ query, k: 5, explanation: query })))
    expect(shapes.size).toBe(queries.length)
    // A word is not a nonce: the field keeps its value.
    expect(same({ query: 'acme', lang: 'typescript' }, { query: 'acme', lang: 'javascript' })).toBe(
      false,
    )
    // Nothing else to compare: the free text or the token is the argument.
    expect(same({ thought: 'the plan is wrong' }, { thought: 'try the other file' })).toBe(false)
    expect(same({ id: 'qwhzkxpvma' }, { id: 'mbtrplvqzx' })).toBe(false)
    expect(
      same(
        { explanation: 'one', request_id: 'qwhzkxpvma' },
        { explanation: 'two', request_id: 'x' },
      ),
    ).toBe(false)
    // Not an id field: `valid` ends in "id" but is no id (an id field's would be left out).
    expect(same({ q: 'acme', valid: 'abcdefg' }, { q: 'acme', valid: 'hijklmn' })).toBe(false)
    expect(same({ q: 'acme', v_id: 'abcdefg' }, { q: 'acme', v_id: 'hijklmn' })).toBe(true)
  })

  it('shows its normalised text', () => {
    expect(
      shapeText({ query: 'What are the best LLM prices in 2026?', ts: 1_767_225_600_000 }),
    ).toBe('{"query":"# best llm pric","ts":#}')
  })

  it('hashes exactly the equality classes of its text (property)', () => {
    const piece = fc.constantFrom(
      'Acme',
      'acme',
      'ACME',
      'pricing',
      'prices',
      'price',
      'the',
      'of',
      // The longest stop words (6 letters): the hash once kept them as words.
      'please',
      'Please',
      'pleases',
      '2026',
      'x1',
      ' ',
      '  ',
      '-',
      ',',
      '\t',
      'flies',
      'fly',
      'running',
      'runs',
      'class',
      'é',
      'ünïcode',
      '0f8fad5b-d9cb-469f-a165-70867728950e',
      'deadbeef-dead-beef-dead-beefdeadbeef',
      // Letters-only tokens: random (a nonce), a word, and of an id field's length.
      'qwhzkxpvma',
      'typescript',
      'abcdef',
    )
    const text = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''))
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)),
      node: fc.oneof(
        { depthSize: 'small' },
        tie('leaf'),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom('a', 'A', 'b', 'query', 'Query', 'explanation', 'request_id', 'userId'),
          tie('node'),
          { maxKeys: 3 },
        ),
      ),
    })).node
    fc.assert(
      fc.property(value, value, (a, b) => {
        const sameText = shapeText(a) === shapeText(b)
        return sameText === (shapeHash(a) === shapeHash(b))
      }),
      { numRuns: 2_000 },
    )
    // And each value against its own variants, so that the equal case is exercised too.
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const a = { q: parts.join(' ') }
        const b = { q: [...parts].reverse().join('  ').toUpperCase() }
        return (shapeText(a) === shapeText(b)) === (shapeHash(a) === shapeHash(b))
      }),
      { numRuns: 2_000 },
    )
  })

  it('survives cycles of depth, long strings and odd values', () => {
    const deep: Record<string, unknown> = {}
    let cursor = deep
    for (let i = 0; i < 100; i++) cursor = cursor.next = {} as Record<string, unknown>
    expect(shapeHash(deep)).toMatch(/^[0-9a-f]{16}$/)
    expect(shapeHash({ text: 'x'.repeat(100_000) })).toBe(shapeHash({ text: 'x'.repeat(90_000) }))
    expect(shapeHash([undefined, null, () => 1, 10n])).toMatch(/^[0-9a-f]{16}$/)
  })
})
