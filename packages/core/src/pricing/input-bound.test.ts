import fc from 'fast-check'
import { Tiktoken } from 'js-tiktoken/lite'
import cl100k from 'js-tiktoken/ranks/cl100k_base'
import o200k from 'js-tiktoken/ranks/o200k_base'
import { describe, expect, it } from 'vitest'
import {
  affordableOutputTokens,
  costBound,
  DEFAULT_CONTEXT_WINDOW,
  inputBound,
  inputTokenBound,
  leastInputTokens,
  TOOLS_OVERHEAD_TOKENS,
} from './cost.js'
import { createPriceSource } from './price-source.js'

const window = { contextWindow: 128_000 }
const pdfUrl = 'https://example.com/annual-report.pdf'
const bytes = new Uint8Array(4_096)
const base64 = Buffer.from(bytes).toString('base64')

// One part of each kind that cannot be sized from the request, as each framework sends it.
const unsized: Array<[string, unknown]> = [
  ['AI SDK file by URL', { type: 'file', data: new URL(pdfUrl), mediaType: 'application/pdf' }],
  ['AI SDK file by URL string', { type: 'file', data: pdfUrl, mediaType: 'application/pdf' }],
  ['AI SDK file by bytes', { type: 'file', data: bytes, mediaType: 'application/pdf' }],
  [
    'AI SDK tagged file reference',
    { type: 'file', data: { type: 'reference', reference: { openai: 'file-1' } } },
  ],
  [
    'AI SDK tool result with an image',
    {
      type: 'tool-result',
      output: { type: 'content', value: [{ type: 'image-url', url: 'https://x/y.png' }] },
    },
  ],
  ['AI SDK file by base64', { type: 'file', data: base64, mediaType: 'application/pdf' }],
  ['AI SDK image by URL', { type: 'image', image: new URL('https://example.com/cat.png') }],
  ['OpenAI image_url', { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }],
  ['OpenAI input_file by id', { type: 'input_file', file_id: 'file-abc' }],
  ['OpenAI input_audio', { type: 'input_audio', input_audio: { data: base64, format: 'wav' } }],
  ['Anthropic document by URL', { type: 'document', source: { type: 'url', url: pdfUrl } }],
  [
    'Anthropic image by base64',
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: base64 } },
  ],
  ['LangChain image block', { type: 'image', source_type: 'url', url: pdfUrl }],
  ['LangChain audio block', { type: 'audio', data: base64, mimeType: 'audio/wav' }],
  ['Gemini inline_data', { inline_data: { mime_type: 'application/pdf', data: base64 } }],
  ['Gemini file_data', { fileData: { mimeType: 'application/pdf', fileUri: pdfUrl } }],
  ['a data URL in any field', { type: 'text', text: `data:image/png;base64,${base64}` }],
  ['bare bytes', bytes],
]

describe('input bound of parts that cannot be sized from the request', () => {
  it.each(unsized)(
    'bounds %s by the context window, never by its URL or byte length',
    (_, part) => {
      const prompt = [{ role: 'user', content: [{ type: 'text', text: 'Summarise this.' }, part] }]
      expect(inputTokenBound(prompt, window)).toBeGreaterThanOrEqual(128_000)
      expect(inputTokenBound(prompt)).toBeGreaterThanOrEqual(DEFAULT_CONTEXT_WINDOW)
    },
  )

  it('adds one context window for all unsized parts (no request exceeds it)', () => {
    const one = [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }]
    const two = [...one, { type: 'image_url', image_url: { url: 'https://example.com/b.png' } }]
    expect(inputTokenBound(two, window) - inputTokenBound(one, window)).toBeLessThan(200)
  })

  it('sizes a URL written in text as text: the model reads it, nothing is fetched', () => {
    const prompt = [{ role: 'user', content: `What is at ${pdfUrl}?` }]
    expect(inputTokenBound(prompt, window)).toBeLessThan(200)
  })

  it('sizes tool schemas as JSON plus the tool-use allowance, a parameter named like media included', () => {
    const tools = [
      {
        type: 'function',
        name: 'fetch_image',
        parameters: {
          type: 'object',
          properties: { image_url: { type: 'string' }, file: { type: 'string' } },
        },
      },
    ]
    const without = inputTokenBound({ prompt: [] }, window)
    const withTools = inputTokenBound({ prompt: [], tools }, window)
    expect(withTools - without).toBeGreaterThanOrEqual(
      JSON.stringify(tools).length + TOOLS_OVERHEAD_TOKENS,
    )
    expect(withTools).toBeLessThan(128_000)
  })
})

describe("the least input tokens a request's text comes to", () => {
  const encoders = [new Tiktoken(o200k), new Tiktoken(cl100k)]
  const tokens = (text: string) => Math.min(...encoders.map((e) => e.encode(text, [], []).length))
  // Text in every script a prompt holds, and runs of one character (the densest tokens).
  const text = fc
    .array(
      fc.oneof(
        fc.stringMatching(/^[a-zA-Z ]{1,40}$/),
        fc.constantFrom(
          'Комитет рассмотрел предложение. ',
          'समिति ने प्रस्ताव की समीक्षा की। ',
          '我们今天讨论了项目的进展情况。',
          '😀👍🏽🤖',
          '-'.repeat(64),
          '='.repeat(80),
          ' '.repeat(120),
          '\n'.repeat(40),
          'function f(x) {\n  return x * 2;\n}\n',
        ),
      ),
      { minLength: 1, maxLength: 30 },
    )
    .map((parts) => parts.join(''))

  it('is never above what a real tokenizer counts, as a string, as messages, or as embedding values', () => {
    fc.assert(
      fc.property(text, text, (system, user) => {
        const real = tokens(system) + tokens(user)
        expect(leastInputTokens(system + user)).toBeLessThanOrEqual(tokens(system + user))
        const messages = {
          prompt: [
            { role: 'system', content: system },
            { role: 'user', content: [{ type: 'text', text: user }] },
          ],
        }
        expect(leastInputTokens(messages)).toBeLessThanOrEqual(real)
        expect(leastInputTokens([system, user])).toBeLessThanOrEqual(real)
      }),
      { numRuns: 300 },
    )
  })

  it("is quickly worked out at the hold as the text's bytes / 16, never below the exact figure", () => {
    fc.assert(
      fc.property(text, text, (system, user) => {
        for (const request of [
          system + user,
          {
            prompt: [
              { role: 'system', content: system },
              { role: 'user', content: user },
            ],
          },
          [system, user],
        ]) {
          const quick = inputBound(request).leastTokens
          expect(quick).toBeGreaterThanOrEqual(leastInputTokens(request))
          // Without a run of 16 of one character, the quick figure is the exact one.
          if (!/(.)\1{15}/su.test(system + user)) expect(quick).toBe(leastInputTokens(request))
        }
      }),
      { numRuns: 200 },
    )
  })

  it('counts the text of messages, Responses input and instructions, Anthropic system, and embedding values', () => {
    const text = 'abcdefgh'.repeat(200)
    for (const request of [
      text,
      [text],
      { messages: [{ role: 'user', content: text }] },
      { prompt: [{ role: 'user', content: [{ type: 'text', text }] }] },
      { input: text },
      { instructions: text, input: [] },
      { system: [{ type: 'text', text }], messages: [] },
      { model: 'text-embedding-3-small', input: [text] },
    ]) {
      expect(leastInputTokens(request)).toBe(100)
    }
  })

  it("is at most half the model's window: a provider that truncates bills what fits", () => {
    const long = 'The agent retried the call. '.repeat(100_000)
    expect(leastInputTokens({ input: long }, { contextWindow: 128_000 })).toBe(64_000)
    expect(leastInputTokens(long, { contextWindow: 8_192 })).toBe(4_096)
    expect(leastInputTokens(long)).toBe(Math.floor(long.length / 16))
  })

  it('leaves out what is not surely text: images, data URLs, tool schemas, ids, a prediction', () => {
    const image = `data:image/png;base64,${'A'.repeat(16_000)}`
    expect(
      leastInputTokens({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: image } }] },
          { role: 'user', content: [{ type: 'image', image: 'A'.repeat(16_000) }] },
          { role: 'user', content: image },
        ],
        tools: [{ name: 'x'.repeat(1_600), description: 'y'.repeat(1_600), parameters: {} }],
        previous_response_id: 'r'.repeat(1_600),
        // OpenAI Predicted Outputs, in a body and in the AI SDK's provider options.
        prediction: { type: 'content', content: 'pq '.repeat(5_000) },
        options: { openai: { prediction: { type: 'content', content: 'qp '.repeat(5_000) } } },
      }),
    ).toBe(0)
  })
})

describe('affordableOutputTokens', () => {
  const cheap = createPriceSource({ cheap: { inputPerMTok: 0.001, outputPerMTok: 0.001 } })
  const rates = cheap.resolve('cheap')!

  it('answers at once for a $1e8 cap at $0.001 per million tokens (it once looped forever)', () => {
    const available = 100_000_000 * 1_000_000
    const n = affordableOutputTokens(available, 1_000, rates)
    // 1e14 micro-dollars at 1,000 micro-dollars per million tokens: 1e17 tokens, past 2^53.
    expect(n).toBe(Number.MAX_SAFE_INTEGER)
    expect(affordableOutputTokens(available, 1_000, rates)).toBe(n)
  })

  /** affordableOutputTokens at `rate` micro-dollars a million tokens, against exact BigInt. */
  const matchesBigInt = (available: number, rate: number) => {
    const own = createPriceSource({ m: { inputPerMTok: 0, outputPerMTok: rate / 1e6 } })
    const n = affordableOutputTokens(available, 0, own.resolve('m')!)
    const exact = (BigInt(available) * 1_000_000n) / BigInt(Math.ceil(rate))
    const safe = BigInt(Number.MAX_SAFE_INTEGER)
    expect(BigInt(n)).toBe(exact > safe ? safe : exact)
  }

  it('is exact on both sides of 2^53 micro-dollars a million tokens', () => {
    const edge = Math.floor(Number.MAX_SAFE_INTEGER / 1_000_000)
    fc.assert(
      fc.property(
        fc.integer({ min: edge - 5_000, max: edge + 5_000 }),
        fc.integer({ min: 1, max: 100_000_000 }),
        matchesBigInt,
      ),
    )
  })

  it('is exact for caps far past 2^53 micro-dollars a million tokens, at any rate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: 9_000_000_000 }),
        matchesBigInt,
      ),
      { numRuns: 2_000 },
    )
  })

  it('is exact for large budgets too: n is paid for, n + 1 is not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000_000_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 100_000_000 }),
        (available, input, rate) => {
          const own = createPriceSource({ m: { inputPerMTok: 1, outputPerMTok: rate / 1e6 } })
          const r = own.resolve('m')!
          const n = affordableOutputTokens(available, input, r)
          if (n === Number.MAX_SAFE_INTEGER) return
          if (n === 0) {
            expect(costBound(input, 1, r)).toBeGreaterThan(available)
          } else {
            expect(costBound(input, n, r)).toBeLessThanOrEqual(available)
            expect(costBound(input, n + 1, r)).toBeGreaterThan(available)
          }
        },
      ),
    )
  })
})
