// LangChain's ChatOpenAI, unmodified, pointed at the gateway with configuration.baseURL and
// the agent's ks_ credential as apiKey.
import { ChatOpenAI } from '@langchain/openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failure } from './testing/failure.js'
import { REPLY } from './testing/fake-wire.js'
import { type GatewayFixture, startGatewayFixture } from './testing/gateway-fixture.js'

describe('LangChain ChatOpenAI through the gateway', () => {
  let f: GatewayFixture
  beforeAll(async () => {
    f = await startGatewayFixture()
  })
  afterAll(() => f.close())

  it('invokes and streams, charged as billed; refused after a revoke', async () => {
    const key = await f.agent('langchain')
    const model = new ChatOpenAI({
      model: 'gpt-4o',
      apiKey: key,
      configuration: { baseURL: f.openaiBaseURL },
      maxRetries: 0,
    })
    const answer = await model.invoke('Say hello.')
    expect(answer.content).toBe(REPLY)
    let streamed = ''
    for await (const chunk of await model.stream('Say hello.')) streamed += String(chunk.content)
    expect(streamed).toBe(REPLY)
    expect(await f.spentMicros('langchain')).toBe(2 * 5_000)
    await f.ks.agents.revoke('langchain', { reason: 'test' })
    const error = await failure<{ status?: number }>(model.invoke('Say hello.'))
    expect(error.status).toBe(401)
  })
})
