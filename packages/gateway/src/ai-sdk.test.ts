// The AI SDK's own providers, unmodified, pointed at the gateway: @ai-sdk/openai (Responses
// and chat models) and @ai-sdk/anthropic. Only baseURL and apiKey change.
import { createAnthropic } from '@ai-sdk/anthropic'
import { createOpenAI } from '@ai-sdk/openai'
import { APICallError, generateText, streamText } from 'ai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPLY } from './testing/fake-wire.js'
import { type GatewayFixture, startGatewayFixture } from './testing/gateway-fixture.js'

describe('the AI SDK through the gateway', () => {
  let f: GatewayFixture
  beforeAll(async () => {
    f = await startGatewayFixture()
  })
  afterAll(() => f.close())

  it('@ai-sdk/openai: generateText and streamText on the Responses and chat models, charged as billed', async () => {
    const key = await f.agent('ai-sdk-openai')
    const openai = createOpenAI({ baseURL: f.openaiBaseURL, apiKey: key })
    const responses = await generateText({ model: openai('gpt-4o'), prompt: 'Say hello.' })
    expect(responses.text).toBe(REPLY)
    expect(responses.usage.inputTokenDetails.cacheReadTokens).toBe(800)
    const chat = await generateText({ model: openai.chat('gpt-4o'), prompt: 'Say hello.' })
    expect(chat.text).toBe(REPLY)
    const streamed = streamText({ model: openai.chat('gpt-4o'), prompt: 'Say hello.' })
    expect(await streamed.text).toBe(REPLY)
    expect(await f.spentMicros('ai-sdk-openai')).toBe(3 * 5_000)
  })

  it('@ai-sdk/anthropic: generateText and streamText, charged as billed', async () => {
    const key = await f.agent('ai-sdk-anthropic')
    const anthropic = createAnthropic({ baseURL: `${f.gateway.url}/v1`, apiKey: key })
    const whole = await generateText({
      model: anthropic('claude-sonnet-4-6'),
      prompt: 'Say hello.',
    })
    expect(whole.text).toBe(REPLY)
    const streamed = streamText({ model: anthropic('claude-sonnet-4-6'), prompt: 'Say hello.' })
    expect(await streamed.text).toBe(REPLY)
    expect(await f.spentMicros('ai-sdk-anthropic')).toBe(2 * 6_300)
  })

  it('raises an APICallError with status 401 after a revoke', async () => {
    const key = await f.agent('ai-sdk-revoked')
    await f.ks.agents.revoke('ai-sdk-revoked', { reason: 'test' })
    const openai = createOpenAI({ baseURL: f.openaiBaseURL, apiKey: key })
    const error = await generateText({
      model: openai('gpt-4o'),
      prompt: 'hi',
      maxRetries: 0,
    }).catch((caught: unknown) => caught)
    expect(APICallError.isInstance(error)).toBe(true)
    expect((error as APICallError).statusCode).toBe(401)
  })
})
