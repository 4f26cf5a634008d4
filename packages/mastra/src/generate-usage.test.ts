// A generate call is charged its provider's usage through every Mastra entry point. Mastra
// replays a generate result to the processor as stream parts; counted there, past the hold,
// the call was charged its count (5x the bill, red team rt40b) where killSwitchModel charged
// the bill. The real @ai-sdk/openai client against a server that keeps its own bill.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOpenAI } from '@ai-sdk/openai'
import { createKillSwitch, toMicros } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import { afterEach, describe, expect, it } from 'vitest'
import { killSwitchModel } from './kill-switch-model.js'
import { killSwitchProcessor } from './kill-switch-processor.js'

const IN_MICROS = 10
const OUT_MICROS = 30
const INPUT_TOKENS = 50

let close = async () => {}
afterEach(() => close())

/**
 * An OpenAI chat completions server (generate only) that answers `outputTokens` tokens of
 * "word " whatever limit it is sent, and bills them.
 */
async function ignoringLimit(outputTokens: number) {
  const server = { bill: 0, calls: 0, url: '' }
  const http = createServer(async (req, res) => {
    for await (const _ of req);
    server.calls++
    server.bill += INPUT_TOKENS * IN_MICROS + outputTokens * OUT_MICROS
    const usage = {
      prompt_tokens: INPUT_TOKENS,
      completion_tokens: outputTokens,
      total_tokens: INPUT_TOKENS + outputTokens,
    }
    const message = { role: 'assistant', content: 'word '.repeat(outputTokens) }
    const choices = [{ index: 0, message, finish_reason: 'stop' }]
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ id: 'c1', created: 1, model: 'fake-gpt', choices, usage }))
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  close = () =>
    new Promise((resolve) => {
      http.closeAllConnections()
      http.close(() => resolve())
    })
  server.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1`
  return server
}

const modes = ['killSwitchModel', 'killSwitchProcessor'] as const

async function generate(mode: (typeof modes)[number], spendingCap: number, outputTokens: number) {
  const server = await ignoringLimit(outputTokens)
  const ks = createKillSwitch({
    prices: { 'fake-gpt': { inputPerMTok: IN_MICROS, outputPerMTok: OUT_MICROS } },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap })
  const provider = createOpenAI({ baseURL: server.url, apiKey: 'sk-test' }).chat('fake-gpt')
  const options = { killSwitch: ks, credential }
  const processor = mode === 'killSwitchProcessor' ? killSwitchProcessor(options) : undefined
  const agent = new Agent({
    id: 'writer',
    name: 'writer',
    instructions: 'write',
    // @mastra/core 1.71 bundles older provider V4 types: an ai 7 model runs.
    model: processor
      ? (provider as unknown as MastraModelConfig)
      : killSwitchModel(provider, options),
    ...(processor && { inputProcessors: [processor], outputProcessors: [processor] }),
  })
  await agent.generate('write', { modelSettings: { maxRetries: 0 } }).catch(() => undefined)
  const settled = (await ks.audit('a')).filter((entry) => entry.type === 'settled')
  return { server, agent: await ks.agents.get('a'), settled }
}

describe('Mastra generate: charged the usage the provider reported', () => {
  for (const mode of modes) {
    it(`charges a provider that ignored its limit its bill, not the count (${mode})`, async () => {
      // Cap $0.05; the provider answers 50,000 tokens ($1.5005) whatever it is sent.
      const { server, agent, settled } = await generate(mode, 0.05, 50_000)

      expect(server.calls).toBe(1)
      expect(server.bill).toBe(1_500_500)
      expect(toMicros(agent.spent)).toBe(server.bill)
      expect(agent.held).toBe(0)
      expect(agent.unreconciled).toBe(0)
      expect(settled).toHaveLength(1)
      expect(settled[0]?.data).toMatchObject({ basis: 'usage', outputTokens: 50_000 })
    })

    it(`charges an honest generate its bill (${mode})`, async () => {
      const { server, agent } = await generate(mode, 10, 300)

      expect(toMicros(agent.spent)).toBe(server.bill)
      expect(agent).toMatchObject({ held: 0, unreconciled: 0 })
    })
  }
})
