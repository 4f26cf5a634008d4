// What the provider bills beyond the tokens is the core's to bound, so the middleware passes
// the whole request: an option billed above the standard rates is refused; a tool the provider runs itself (billed per use) is refused before the provider is
// called; content named in provider options (a previous response, a thread) is held at the
// model's context window, so a small cap refuses the call instead of paying for it.
import { createOpenAI, openai } from '@ai-sdk/openai'
import { findKillSwitchError, UnknownModelPriceError } from '@killswitch/core'
import { generateText, streamText } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import { withKillSwitch } from './kill-switch-middleware.js'
import { generateResult, scriptedModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'
import { wireServer } from './testing/wire-server.js'

async function setup(spendingCap: number, contextWindow = 128_000) {
  const agent = await testAgent(spendingCap, {
    prices: { 'mock-model': { inputPerMTok: 10, outputPerMTok: 30, contextWindow } },
  })
  let calls = 0
  const model = withKillSwitch(
    scriptedModel(() => {
      calls++
      return { text: 'ok' }
    }),
    { killSwitch: agent.ks, credential: agent.credential },
  )
  return { agent, model, calls: () => calls }
}

describe('a tool the provider runs itself', () => {
  it.each([
    ['web search', { web_search: openai.tools.webSearch() }, 'openai.web_search'],
    ['code interpreter', { code: openai.tools.codeInterpreter() }, 'openai.code_interpreter'],
  ])('(%s) is refused before the provider is called', async (_name, tools, id) => {
    const { agent, model, calls } = await setup(100)
    const refused = await generateText({ model, prompt: 'hi', tools }).catch((e: unknown) => e)
    const error = findKillSwitchError(refused)
    expect(error).toBeInstanceOf(UnknownModelPriceError)
    expect((error as Error).message).toContain(`tool "${id}" the provider runs itself`)
    expect(calls()).toBe(0)
    expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
  })
})

describe('content named in provider options', () => {
  it.each([
    ['a previous response', { openai: { previousResponseId: 'resp_1' } }],
    ['a conversation', { openai: { conversation: 'conv_1' } }],
  ])('(%s) is held at the context window: refused on a small cap', async (_name, options) => {
    // 128k input tokens at $10 a million: $1.28, past a $0.50 cap.
    const { agent, model, calls } = await setup(0.5)
    const refused = await generateText({ model, prompt: 'go on', providerOptions: options }).catch(
      (e: unknown) => e,
    )
    expect(findKillSwitchError(refused)?.code).toBe('spending_cap_exceeded')
    expect(calls()).toBe(0)
    // The same call without it is served.
    expect((await generateText({ model, prompt: 'go on' })).text).toBe('ok')
    expect(calls()).toBe(1)
    expect((await agent.ledger()).held).toBe(0)
  })
})

describe('a call with an option billed apart', () => {
  it('is refused before the provider is called; a standard tier is served', async () => {
    const { agent, model, calls } = await setup(10)
    const priority = { openai: { serviceTier: 'priority' } }
    const refused = await generateText({ model, prompt: 'hi', providerOptions: priority }).catch(
      (error: unknown) => error,
    )
    expect(findKillSwitchError(refused)).toBeInstanceOf(UnknownModelPriceError)
    expect(String((refused as Error).message)).toContain('serviceTier "priority"')
    const streamed = streamText({ model, prompt: 'hi', providerOptions: priority })
    await expect(streamed.text).rejects.toThrow(/serviceTier "priority"/)
    expect(calls()).toBe(0)
    expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
    const flex = { openai: { serviceTier: 'flex' } }
    expect((await generateText({ model, prompt: 'hi', providerOptions: flex })).text).toBe('ok')
    expect(calls()).toBe(1)
  })
})

describe('audio input to a model priced at its text rates', () => {
  it('is refused before the real OpenAI client sends it, however its media type is spelled', async () => {
    const server = await wireServer()
    try {
      const agent = await testAgent(100)
      const provider = createOpenAI({ baseURL: server.baseURL, apiKey: 'sk-test' })
      const model = withKillSwitch(provider.chat('gpt-4o-audio-preview'), {
        killSwitch: agent.ks,
        credential: agent.credential,
      })
      // A WAV header: @ai-sdk/openai sniffs a bare `audio` to audio/wav and sends input_audio.
      const wav = new Uint8Array([...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WAVEfmt ')])
      for (const mediaType of ['audio', 'audio/wav', 'AUDIO/WAV']) {
        const refused = await generateText({
          model,
          maxRetries: 0,
          messages: [{ role: 'user', content: [{ type: 'file', mediaType, data: wav }] }],
        }).catch((error: unknown) => error)
        const error = findKillSwitchError(refused)
        expect(error, mediaType).toBeInstanceOf(UnknownModelPriceError)
        expect((error as Error).message).toContain('audio input')
      }
      expect(server.requests).toHaveLength(0)
      expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
    } finally {
      server.close()
    }
  })
})

describe("Claude Sonnet 4's window with Anthropic's context-1m beta", () => {
  it('bounds an image by URL at 1M tokens, whether this call or the provider asks for the beta: refused on a $2 cap', async () => {
    const agent = await testAgent(2)
    let calls = 0
    // As Anthropic's provider: it takes images by URL (the AI SDK downloads them otherwise).
    const anthropic = new MockLanguageModelV4({
      modelId: 'claude-sonnet-4-0',
      provider: 'anthropic.messages',
      supportedUrls: { 'image/*': [/^https:\/\//] },
      doGenerate: async () => generateResult({ text: 'ok' }, calls++),
    })
    const model = withKillSwitch(anthropic, { killSwitch: agent.ks, credential: agent.credential })
    const messages = [
      {
        role: 'user' as const,
        content: [{ type: 'image' as const, image: new URL('https://example.com/chart.png') }],
      },
    ]
    // The beta may be in the provider's settings (createAnthropic({ headers })), where the
    // middleware cannot see it: 1M tokens past the 200k tier, $7.50 of input, past the cap.
    for (const headers of [undefined, { 'anthropic-beta': 'context-1m-2025-08-07' }]) {
      const refused = await generateText({
        model,
        messages,
        maxOutputTokens: 100,
        ...(headers && { headers }),
      }).catch((error: unknown) => error)
      expect(findKillSwitchError(refused)?.code).toBe('spending_cap_exceeded')
    }
    expect(calls).toBe(0)
    expect((await agent.ledger()).held).toBe(0)
  })
})
