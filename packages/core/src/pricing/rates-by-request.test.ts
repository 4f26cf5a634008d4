// What a call costs depends on more than its model: the hour (peak prices), what its input
// carries (media priced apart, a one-hour cache) and content the provider adds from its
// side. Each is checked against the bundled price data, through the guard to the ledger.
import { calcPrice, type ModelInfo } from '@pydantic/genai-prices'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SpendingCapExceededError, UnknownModelPriceError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import {
  affordableOutputTokens,
  costBound,
  costOfUsage,
  DEFAULT_CONTEXT_WINDOW,
  inputBound,
  REQUEST_OVERHEAD_TOKENS,
} from './cost.js'
import { genaiPriceLookup, priceValidUntil } from './genai-prices.js'
import { higher, type Rate, rateAt, ratesFor } from './model-rates.js'
import { createPriceSource } from './price-source.js'

afterEach(() => {
  vi.useRealTimers()
})

/** What genai-prices bills for `usage` at `at`, in micro-dollars. */
function billed(model: string, providerId: string, usage: Record<string, number>, at: Date) {
  const price = calcPrice(usage, model, { providerId, timestamp: at })
  if (!price) throw new Error(`no price for ${model}`)
  return Math.round(price.total_price * 1_000_000)
}

describe('prices that change with the hour or the date', () => {
  // deepseek-chat: peak (00:30-16:30 UTC) costs twice off-peak in the bundled data.
  const offPeak = new Date('2026-12-03T20:00:00Z')
  const peak = new Date('2026-12-04T09:00:00Z')
  const usage = { input_tokens: 10_000, output_tokens: 10_000 }

  it('a process that priced a model off-peak prices its next call at peak at the peak rate', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const prices = createPriceSource()
    vi.setSystemTime(offPeak)
    const first = prices.resolve('deepseek-chat', 'deepseek')
    vi.setSystemTime(peak)
    const second = prices.resolve('deepseek-chat', 'deepseek')
    expect(first && second).toBeTruthy()
    const tokens = { inputTokens: 10_000, outputTokens: 10_000 }
    expect(costOfUsage(tokens, first as never)).toBe(
      billed('deepseek-chat', 'deepseek', usage, offPeak),
    )
    expect(costOfUsage(tokens, second as never)).toBe(
      billed('deepseek-chat', 'deepseek', usage, peak),
    )
    expect(billed('deepseek-chat', 'deepseek', usage, peak)).toBeGreaterThan(
      billed('deepseek-chat', 'deepseek', usage, offPeak),
    )
  })

  it('through the guard: the second call of the day is settled at the price of its hour', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(offPeak)
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const run = async () => {
      const ticket = await guard.beforeModelCall({
        model: 'deepseek-chat',
        provider: 'deepseek',
        input: 'hi',
        maxOutputTokens: 20_000,
      })
      return guard.afterModelCall(ticket, { usage: { inputTokens: 10_000, outputTokens: 10_000 } })
    }
    const first = await run()
    vi.setSystemTime(peak)
    const second = await run()
    expect(first.costUsd * 1e6).toBeCloseTo(billed('deepseek-chat', 'deepseek', usage, offPeak))
    expect(second.costUsd * 1e6).toBeCloseTo(billed('deepseek-chat', 'deepseek', usage, peak))
  })

  it('a model with one price is never looked up again (no clock read per call)', () => {
    const found = genaiPriceLookup('gpt-4o', 'openai')
    expect(found?.validUntil).toBe(Number.POSITIVE_INFINITY)
  })

  it('knows when each kind of constraint may change the price', () => {
    const model = (prices: ModelInfo['prices']) => ({ id: 'm', match: { equals: 'm' }, prices })
    const now = Date.parse('2026-12-03T20:00:00Z')
    const windowed = model([
      { prices: { input_mtok: 1, output_mtok: 1 } },
      {
        constraint: { type: 'time_of_date', start_time: '00:30:00Z', end_time: '16:30:00Z' },
        prices: { input_mtok: 2, output_mtok: 2 },
      },
    ])
    expect(priceValidUntil(windowed, now)).toBe(Date.parse('2026-12-04T00:30:00Z'))
    expect(priceValidUntil(windowed, Date.parse('2026-12-04T01:00:00Z'))).toBe(
      Date.parse('2026-12-04T16:30:00Z'),
    )
    const dated = model([
      { prices: { input_mtok: 1, output_mtok: 1 } },
      { constraint: { type: 'start_date', start_date: '2027-01-01' }, prices: { input_mtok: 2 } },
    ])
    expect(priceValidUntil(dated, now)).toBe(Date.parse('2027-01-01'))
    // Past every date: the price now is the price for good.
    expect(priceValidUntil(dated, Date.parse('2027-02-01'))).toBe(Number.POSITIVE_INFINITY)
    const unreadable = model([
      {
        constraint: { type: 'time_of_date', start_time: 'noon', end_time: '16:30:00Z' },
        prices: { input_mtok: 2 },
      },
    ])
    expect(priceValidUntil(unreadable, now)).toBe(now)
  })
})

describe('media and one-hour caches, priced at what the request shows', () => {
  const flash = genaiPriceLookup('gemini-2.5-flash', 'google')?.rates
  const sonnet = genaiPriceLookup('claude-sonnet-4-5', 'anthropic')?.rates

  it('reads the media and one-hour cache rates of the bundled data', () => {
    if (!flash?.mediaInput || !sonnet?.longCacheWrite) throw new Error('no media or 1h rates')
    expect(rateAt(flash.mediaInput, 0)).toBeGreaterThan(rateAt(flash.input, 0))
    expect(rateAt(sonnet.longCacheWrite, 0)).toBeGreaterThan(rateAt(sonnet.cacheWrite, 0))
  })

  it('a text prompt keeps the text rates; one with audio is priced at the audio rate', () => {
    if (!flash) throw new Error('no price for gemini-2.5-flash')
    const text = inputBound([{ role: 'user', content: 'hello' }])
    expect(ratesFor(flash, text)).toBe(flash)
    const audio = inputBound([
      { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
    ])
    expect(audio.media).toBe(true)
    const usage = { input_tokens: 100_000, output_tokens: 0 }
    const raised = ratesFor(flash, audio)
    expect(costOfUsage({ inputTokens: 100_000 }, raised)).toBe(
      billed('gemini-2.5-flash', 'google', { ...usage, input_audio_tokens: 100_000 }, new Date()),
    )
  })

  it('output a model prices by modality (images) is bounded and charged at its highest rate', () => {
    const image = genaiPriceLookup('gemini-2.5-flash-image', 'google')?.rates
    if (!image) throw new Error('no price for gemini-2.5-flash-image')
    const usage = { input_tokens: 0, output_tokens: 1_290, output_image_tokens: 1_290 }
    expect(costOfUsage({ outputTokens: 1_290 }, image)).toBe(
      billed('gemini-2.5-flash-image', 'google', usage, new Date()),
    )
  })

  it('a one-hour cache asked for in the prompt prices every cache write at the one-hour rate', () => {
    if (!sonnet) throw new Error('no price for claude-sonnet-4-5')
    const cached = {
      type: 'text',
      text: 'the whole codebase',
      cache_control: { type: 'ephemeral', ttl: '1h' },
    }
    const evidence = inputBound([{ role: 'user', content: [cached] }])
    expect(evidence.longCache).toBe(true)
    const usage = { inputTokens: 100_000, cacheWriteTokens: 100_000 }
    expect(costOfUsage(usage, ratesFor(sonnet, evidence))).toBe(
      billed(
        'claude-sonnet-4-5',
        'anthropic',
        { input_tokens: 100_000, cache_write_tokens: 100_000 },
        new Date(),
      ) +
        // genai-prices bills cache writes at the five-minute rate: the one-hour rate is 2x input.
        100_000 * ((2 * rateAt(sonnet.input, 0) - rateAt(sonnet.cacheWrite, 0)) / 1e6),
    )
    // Without it, five-minute writes stay at their own rate.
    const plain = inputBound([{ role: 'user', content: 'hi' }])
    expect(ratesFor(sonnet, plain)).toBe(sonnet)
  })

  it('higher() is at every input size the higher of two rates (tiered or flat)', () => {
    const rate = fc.oneof(
      fc.integer({ min: 0, max: 1e9 }),
      fc
        .record({
          base: fc.integer({ min: 0, max: 1e9 }),
          tiers: fc.array(
            fc.record({
              above: fc.integer({ min: 0, max: 2e6 }),
              rate: fc.integer({ min: 0, max: 1e9 }),
            }),
            { maxLength: 3 },
          ),
        })
        .map((r) => ({ ...r, tiers: [...r.tiers].sort((x, y) => x.above - y.above) })),
    ) as fc.Arbitrary<Rate>
    fc.assert(
      fc.property(rate, rate, fc.integer({ min: 0, max: 3e6 }), (a, b, tokens) => {
        expect(rateAt(higher(a, b), tokens)).toBe(Math.max(rateAt(a, tokens), rateAt(b, tokens)))
      }),
    )
  })
})

describe('content the provider adds from its side is bounded by the context window', () => {
  const window = { contextWindow: 128_000 }
  const bare = (input: unknown) => inputBound(input, window).tokens
  const cases: Array<[string, unknown]> = [
    ['OpenAI previous_response_id', { input: 'go on', previous_response_id: 'resp_1' }],
    ['OpenAI conversation by id', { input: 'go on', conversation: 'conv_1' }],
    ['OpenAI conversation object', { input: 'go on', conversation: { id: 'conv_1' } }],
    ['OpenAI stored prompt', { prompt: { id: 'pmpt_1', version: '2' } }],
    ['Gemini cached content', { contents: [], cachedContent: 'cachedContents/abc' }],
    ['Anthropic MCP servers', { messages: [], mcp_servers: [{ type: 'url', url: 'https://m' }] }],
    ['Anthropic web fetch', { messages: [], tools: [{ type: 'web_fetch_20250910', name: 'f' }] }],
    ['OpenAI web search', { input: 'x', tools: [{ type: 'web_search' }] }],
    [
      'OpenAI file search',
      { input: 'x', tools: [{ type: 'file_search', vector_store_ids: ['v'] }] },
    ],
    ['Gemini google search', { contents: [], tools: [{ googleSearch: {} }] }],
    [
      'Anthropic thread continued',
      { messages: [], thread: { type: 'continue', previous_message_id: 'msg_1' } },
    ],
    ['OpenAI item reference', { input: [{ type: 'item_reference', id: 'msg_1' }] }],
    [
      'chat assistant audio by id',
      {
        messages: [
          { role: 'assistant', audio: { id: 'audio_1' } },
          { role: 'user', content: 'go' },
        ],
      },
    ],
    [
      'Anthropic advisor tool (another model, server-side)',
      { messages: [], tools: [{ type: 'advisor_20260301', name: 'advisor', model: 'x' }] },
    ],
    [
      'AI SDK provider tool',
      { prompt: [], tools: [{ type: 'provider', id: 'anthropic.web_search_20250305', name: 's' }] },
    ],
  ]

  it.each(cases)('%s adds a context window to the bound', (_, input) => {
    const bound = inputBound(input, window)
    expect(bound.media).toBe(true)
    expect(bound.tokens).toBeGreaterThanOrEqual(window.contextWindow)
  })

  it('a prompt that only looks like one is sized as it is', () => {
    // An AI SDK prompt is an array; a JSON schema property named `conversation` has no id;
    // a function tool is run by the agent.
    const honest = [
      { prompt: [{ role: 'user', content: 'hi' }] },
      { properties: { conversation: { type: 'string' }, prompt: { type: 'string' } } },
      { input: 'x', tools: [{ type: 'function', name: 'search', parameters: {} }] },
      { input: 'x', previous_response_id: '' },
    ]
    for (const input of honest) {
      expect(inputBound(input, window).media).toBe(false)
      expect(bare(input)).toBeLessThan(DEFAULT_CONTEXT_WINDOW)
      expect(bare(input)).toBeGreaterThan(REQUEST_OVERHEAD_TOKENS)
    }
  })

  it('through the guard: a call continuing a stored conversation holds the context window', async () => {
    const ks = createKillSwitch({
      runaway: false,
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1, contextWindow: 128_000 } },
    })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 0.1 })
    const guard = ks.guard(agent.credential)
    const continuing = { input: 'go on', previous_response_id: 'resp_1' }
    // A $0.10 cap cannot hold a call that may read a 128,000-token conversation at $1/M.
    await expect(
      guard.beforeModelCall({ model: 'm', input: continuing, maxOutputTokens: 10 }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
    await ks.agents.update('a', { spendingCap: 1 })
    const ticket = await guard.beforeModelCall({
      model: 'm',
      input: continuing,
      maxOutputTokens: 10,
    })
    expect(ticket.reservedUsd).toBeGreaterThanOrEqual(0.128)
    // The provider billed the stored chain: settled as billed, within the hold.
    const settled = await guard.afterModelCall(ticket, {
      usage: { inputTokens: 120_000, outputTokens: 10 },
    })
    expect(settled.costUsd).toBe(0.12001)
  })
})

describe('tool calls are output', () => {
  it('a call without usage is charged its tool-call arguments, not only its text', async () => {
    const ks = createKillSwitch({
      runaway: false,
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall({ model: 'm', input: 'x', maxOutputTokens: 100_000 })
    const args = { code: 'y'.repeat(16_000) }
    const settled = await guard.afterModelCall(ticket, {
      text: '',
      toolCalls: [{ name: 'run', args }],
    })
    // At least the arguments' 16 KB counted (one token per byte at most for an unknown
    // tokenizer), never the handful of tokens of the empty text.
    expect(settled.costUsd * 1e6).toBeGreaterThan(16_000)
  })
})

describe('models priced for input only (embeddings)', () => {
  it('serve a call that says it has no output, and only such a call', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const model = { model: 'text-embedding-3-small', provider: 'openai', input: 'x'.repeat(1_000) }
    // A chat call to it would be output priced at zero by omission: refused.
    await expect(guard.beforeModelCall(model)).rejects.toBeInstanceOf(UnknownModelPriceError)
    const ticket = await guard.beforeModelCall({ ...model, inputOnly: true, maxOutputTokens: 1 })
    const settled = await guard.afterModelCall(ticket, {
      usage: { inputTokens: 250_000, outputTokens: 0 },
    })
    expect(settled.costUsd * 1e6).toBe(
      billed('text-embedding-3-small', 'openai', { input_tokens: 250_000 }, new Date()),
    )
  })
})

describe('media output', () => {
  it('is refused for a model whose prices do not hold it, allowed where they do or an override says', async () => {
    const ks = createKillSwitch({
      runaway: false,
      prices: { 'my-voice': { inputPerMTok: 1, outputPerMTok: 80 } },
    })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 5 })
    const guard = ks.guard(agent.credential)
    const call = (model: string) =>
      guard.beforeModelCall({ model, input: 'say hi', mediaOutput: true, maxOutputTokens: 100 })
    await expect(call('gpt-4o-audio-preview')).rejects.toThrow(/media output/)
    expect((await call('gpt-audio')).reservedUsd).toBeGreaterThan(0)
    expect((await call('my-voice')).reservedUsd).toBeGreaterThan(0)
    // Without media output, the text model is priced as it always was.
    const text = await guard.beforeModelCall({ model: 'gpt-4o-audio-preview', input: 'hi' })
    expect(text.reservedUsd).toBeGreaterThan(0)
  })
})

describe('audio input', () => {
  const audioPart = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }
  const audioInputs: Array<[string, unknown]> = [
    ['an input_audio part', [{ role: 'user', content: [audioPart] }]],
    ['an audio data URL', [{ role: 'user', content: 'data:audio/wav;base64,UklGRg==' }]],
    ['an AI SDK file part', [{ type: 'file', mediaType: 'audio/mpeg', data: new Uint8Array(4) }]],
    ['a LangChain audio block', [{ type: 'audio', mime_type: 'audio/wav', data: 'UklGRg==' }]],
    ["a previous answer's audio by id", [{ role: 'assistant', audio: { id: 'audio_1' } }]],
    // The AI SDK sniffs the bytes of a bare `audio` and sends input_audio.
    ['a bare audio media type', [{ type: 'file', mediaType: 'audio', data: new Uint8Array(4) }]],
    ['an upper-case one', [{ type: 'file', mediaType: 'AUDIO/WAV', data: 'UklGRg==' }]],
    ['an upper-case data URL', [{ role: 'user', content: 'data:AUDIO/wav;base64,UklGRg==' }]],
    ['Gemini inline data', [{ parts: [{ inline_data: { mime_type: 'audio/mp3', data: 'x' } }] }]],
  ]

  it.each(audioInputs)('is seen in %s', (_, input) => {
    expect(inputBound(input)).toMatchObject({ media: true, audio: true })
  })

  it('is not seen in an image, a text file, or a tool naming a file of audio', () => {
    const image = [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } }]
    const text = [{ type: 'file', mediaType: 'text/plain', data: 'hello' }]
    // A tool's arguments and results name a file's type: they are text to the model.
    const toolCall = [
      { role: 'assistant', tool_calls: [{ name: 'play', args: { mimeType: 'audio/mpeg' } }] },
    ]
    const toolResult = [
      {
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            output: { type: 'json', value: { mimeType: 'audio/mpeg', name: 'ep1.mp3' } },
          },
        ],
      },
    ]
    for (const input of [image, text, toolCall, toolResult]) {
      expect(inputBound(input).audio).toBeUndefined()
    }
  })

  it('is refused for a model whose prices have no media input rate, allowed where they do or an override says', async () => {
    const ks = createKillSwitch({
      runaway: false,
      prices: { 'my-listener': { inputPerMTok: 40, outputPerMTok: 80, contextWindow: 20_000 } },
    })
    // Audio is bounded by the model's context window: a million tokens for Gemini.
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 50 })
    const guard = ks.guard(agent.credential)
    const input = [{ role: 'user', content: [audioPart] }]
    const call = (model: string) => guard.beforeModelCall({ model, input, maxOutputTokens: 100 })
    // Listed at text rates only: audio input would be charged at $2.50 for $40 billed.
    const refused = await call('gpt-4o-audio-preview').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(UnknownModelPriceError)
    expect((refused as Error).message).toMatch(/audio input/)
    expect((await call('my-listener')).reservedUsd).toBeGreaterThan(0)
    // Gemini's prices carry a media input rate: held and settled at it.
    expect((await call('gemini-2.5-flash')).reservedUsd).toBeGreaterThan(0)
    // Without audio, the text model is priced as it always was.
    const text = await guard.beforeModelCall({ model: 'gpt-4o-audio-preview', input: 'hi' })
    expect(text.reservedUsd).toBeGreaterThan(0)
  })
})

describe('the context window that bounds what a request cannot size', () => {
  it("is never below the model's real window (the data rounds gpt-4.1's down)", () => {
    for (const model of ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4.1-2025-04-14']) {
      expect(genaiPriceLookup(model)?.rates.contextWindow, model).toBeGreaterThanOrEqual(1_047_576)
    }
    // A window the data has and does not round down is kept as it is.
    expect(genaiPriceLookup('gpt-4o')?.rates.contextWindow).toBe(128_000)
  })

  it('is 2^21 tokens where the data gives none: past any window served (gemini-2.5-pro: 2^20)', () => {
    expect(DEFAULT_CONTEXT_WINDOW).toBe(2_097_152)
    const stored = { input: 'go on', previous_response_id: 'resp_1' }
    expect(inputBound(stored).tokens).toBeGreaterThan(2_097_152)
  })

  it('holds a stored conversation on gpt-4.1 at its real window, so the cap holds', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 2.01 })
    const guard = ks.guard(agent.credential)
    // $2 per million input tokens: 1,047,576 tokens cost $2.095, past this $2.01 cap.
    const stored = { input: 'go on', previous_response_id: 'resp_1' }
    await expect(
      guard.beforeModelCall({ model: 'gpt-4.1', input: stored, maxOutputTokens: 16 }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
  })
})

describe('long-context prices the data leaves out (Claude Sonnet 4 and 4.5 past 200k)', () => {
  const long = { input_tokens: 300_000, cache_read_tokens: 50_000, output_tokens: 10_000 }
  const short = { input_tokens: 100_000, output_tokens: 10_000 }
  const tokens = (usage: Record<string, number>) => ({
    // genai-prices' input_tokens count the cached ones too, as the core's do.
    inputTokens: usage.input_tokens ?? 0,
    cacheReadTokens: usage.cache_read_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
  })

  it.each([
    ['claude-sonnet-4-20250514', 'anthropic'],
    ['claude-sonnet-4-0', 'anthropic'],
    ['claude-sonnet-4@20250514', 'google'],
    ['anthropic.claude-sonnet-4-20250514-v1:0', 'aws'],
    ['anthropic.claude-sonnet-4-5-20250929-v1:0', 'aws'],
  ])(
    '%s (%s): past 200k at 2x input and 1.5x output; below, at the data price; a 1M window',
    (model, provider) => {
      const rates = genaiPriceLookup(model, provider)?.rates
      if (!rates) throw new Error(`no price for ${model}`)
      const base = (usage: Record<string, number>) => billed(model, provider, usage, new Date())
      // Below 200k: the data's own flat price.
      expect(costOfUsage(tokens(short), rates)).toBe(base(short))
      // Past it: what Anthropic bills, 2x every input rate and 1.5x output over the flat price
      // (the data's own tiers on claude-sonnet-4-5 give the same figures).
      const input = base({ input_tokens: 300_000, cache_read_tokens: 50_000, output_tokens: 0 })
      const output = base({ input_tokens: 0, output_tokens: 10_000 })
      expect(
        Math.abs(costOfUsage(tokens(long), rates) - (2 * input + 1.5 * output)),
      ).toBeLessThanOrEqual(2)
      // The beta's 1M, which a request can ask for where no adapter sees it: the data says 200k.
      expect(rates.contextWindow).toBe(1_000_000)
    },
  )

  it('holds a call at the tier its input bound can reach: a short prompt at the base rates', () => {
    const rates = genaiPriceLookup('claude-sonnet-4-0', 'anthropic')?.rates
    if (!rates) throw new Error('no price for claude-sonnet-4-0')
    // Input is held at its costliest kind (a 5-minute cache write: $3.75 a million, $7.50
    // past 200k), output at $15 ($22.50 past 200k).
    expect(costBound(1_000, 1_000, rates)).toBe(3_750 + 15_000)
    expect(costBound(200_000, 1_000, rates)).toBe(750_000 + 15_000)
    expect(costBound(200_001, 1_000, rates)).toBe(1_500_008 + 22_500)
    // A budget clamps the output at the rate of the tier its input can reach.
    expect(affordableOutputTokens(18_750, 1_000, rates)).toBe(1_000)
  })

  it('bounds unsized parts by the 1M window, past the 200k tier, with or without the beta in sight', () => {
    const rates = genaiPriceLookup('claude-sonnet-4-0', 'anthropic')?.rates
    if (!rates) throw new Error('no price for claude-sonnet-4-0')
    const image = [
      { role: 'user', content: [{ type: 'image', image: new URL('https://x/y.png') }] },
    ]
    const bound = inputBound({ prompt: image }, { contextWindow: rates.contextWindow }).tokens
    expect(bound).toBeGreaterThan(1_000_000)
    // Held at the tier a 1M-token input reaches: $7.50 a million (a cache write, past 200k).
    expect(costBound(bound, 0, rates)).toBeGreaterThanOrEqual(7_500_000)
  })

  it("matches the data's own tiers on claude-sonnet-4-5 (Anthropic), which are kept", () => {
    const tiered = genaiPriceLookup('claude-sonnet-4-5', 'anthropic')?.rates
    const flat = genaiPriceLookup('claude-sonnet-4-0', 'anthropic')?.rates
    if (!tiered || !flat) throw new Error('no price for claude-sonnet-4')
    expect(costOfUsage(tokens(long), tiered)).toBe(
      billed('claude-sonnet-4-5', 'anthropic', long, new Date()),
    )
    expect(costOfUsage(tokens(long), flat)).toBe(costOfUsage(tokens(long), tiered))
  })

  it('through the guard: a 300k-token call to claude-sonnet-4-0 settles at the long-context price', async () => {
    const ks = createKillSwitch({ runaway: false })
    const { credential } = await ks.agents.create({ handle: 'long', spendingCap: 100 })
    const guard = ks.guard(credential)
    const ticket = await guard.beforeModelCall({
      model: 'claude-sonnet-4-0',
      provider: 'anthropic',
      input: 'x',
      maxOutputTokens: 10_000,
    })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 300_000, outputTokens: 10_000 } })
    // $6 a million past 200k for the input, $22.50 for the output: $1.80 + $0.225.
    expect((await ks.agents.get('long')).spent).toBeCloseTo(2.025, 6)
    await ks.close()
  })
})
