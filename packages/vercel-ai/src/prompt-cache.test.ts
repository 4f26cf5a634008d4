// Anthropic's prompt cache through the middleware, for an AI SDK 5 model (spec V2, whose cache
// writes are only in its provider metadata) and the real @ai-sdk/anthropic@4 client (whose
// usage holds them): every write and read settles what Anthropic bills, to the micro-dollar,
// never counted twice; and a cap stops cache writes before they spend past it.
import { createAnthropic } from '@ai-sdk/anthropic'
import { findKillSwitchError, toMicros } from '@killswitch/core'
import { generateText, type ModelMessage, streamText } from 'ai'
import { describe, expect, it } from 'vitest'
import { type WrappableModel, withKillSwitch } from './kill-switch-middleware.js'
import {
  type AnthropicUsage,
  anthropicFetch,
  anthropicUsage,
  anthropicV2Model,
  CACHE_CASES,
} from './testing/anthropic.js'
import { testAgent } from './testing/test-agent.js'

// ai 7 warns of a V2 model's compatibility mode at every call: expected here.
globalThis.AI_SDK_LOG_WARNINGS = false
const MODEL_ID = 'claude-haiku-4-5'
// ~22,500 tokens of text (90,000 bytes): the reported counts fit within its input bound.
const DOC = 'The quick brown fox jumps over the lazy dog. '.repeat(2_000)

/** A long document marked for the cache (one-hour when `ttl` says so), then a question. */
function cachedPrompt(ttl?: '1h'): ModelMessage[] {
  const cacheControl = { type: 'ephemeral', ...(ttl && { ttl }) }
  return [
    {
      role: 'user',
      content: [{ type: 'text', text: DOC, providerOptions: { anthropic: { cacheControl } } }],
    },
    { role: 'user', content: 'Summarise it.' },
  ]
}

/** The two generations: each a model answering with `usage`, and Anthropic's bill. */
const sdks = {
  'AI SDK 5 (@ai-sdk/anthropic@2, spec V2)': (usage: (call: number) => AnthropicUsage) => {
    const v2 = anthropicV2Model(usage, MODEL_ID)
    return { model: v2.model as WrappableModel, billMicros: v2.billMicros }
  },
  'ai 7 (@ai-sdk/anthropic@4, spec V4)': (usage: (call: number) => AnthropicUsage) => {
    const wire = anthropicFetch(usage)
    const anthropic = createAnthropic({ apiKey: 'sk-ant-test', fetch: wire.fetch })
    return { model: anthropic(MODEL_ID) as WrappableModel, billMicros: wire.billMicros }
  },
}

const caches = [
  ...CACHE_CASES,
  {
    name: 'a cache read and a write',
    usage: anthropicUsage(1_000, 200, { read: 12_000, write5m: 9_000 }),
  },
]

describe.each(Object.entries(sdks))('%s', (_sdk, anthropicModel) => {
  for (const { name, usage, ttl } of caches) {
    for (const path of ['generate', 'stream'] as const) {
      it(`${name} (${path}) settles Anthropic's bill to the micro-dollar`, async () => {
        const agent = await testAgent(10, { prices: {} })
        const { model: base, billMicros } = anthropicModel(() => usage)
        const model = withKillSwitch(base, { killSwitch: agent.ks, credential: agent.credential })
        const messages = cachedPrompt(ttl)
        if (path === 'generate') await generateText({ model, messages, maxOutputTokens: 500 })
        else await streamText({ model, messages, maxOutputTokens: 500 }).text
        const { spent, held } = await agent.ledger()
        expect(held).toBe(0)
        // The core rounds each call up to the next micro-dollar: exact, never under the bill.
        expect(spent).toBe(Math.ceil(billMicros()))
      })
    }
  }

  it('stops cache writes at the cap: Anthropic bills no more than the cap', async () => {
    const cap = 0.5
    const agent = await testAgent(cap, { prices: {} })
    // Each call writes the document anew: ~$0.026 a call, 40 calls would be ~$1.04.
    const { model: base, billMicros } = anthropicModel(() =>
      anthropicUsage(20, 200, { write5m: 20_000 }),
    )
    const model = withKillSwitch(base, { killSwitch: agent.ks, credential: agent.credential })
    let served = 0
    let refused: unknown
    for (; served < 40; served++) {
      refused = await generateText({ model, messages: cachedPrompt(), maxOutputTokens: 500 }).then(
        () => undefined,
        (error: unknown) => error,
      )
      if (refused !== undefined) break
    }
    expect(findKillSwitchError(refused)?.code).toBe('spending_cap_exceeded')
    expect(billMicros()).toBeLessThanOrEqual(toMicros(cap))
    const { spent } = await agent.ledger()
    expect(spent).toBeGreaterThanOrEqual(billMicros())
    expect(spent).toBeLessThanOrEqual(billMicros() + served)
  })
})
