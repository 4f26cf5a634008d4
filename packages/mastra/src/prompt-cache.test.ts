// Anthropic's prompt cache through both Mastra integrations (the processor, the wrapped
// model), for an AI SDK 5 model (spec V2: cache writes only in its provider metadata, which
// Mastra's step usage leaves out) and the real @ai-sdk/anthropic@4 client: every write and
// read settles what Anthropic bills, to the micro-dollar, never counted twice.
import { createAnthropic } from '@ai-sdk/anthropic'
import { createKillSwitch, toMicros } from '@killswitch/core'
import type { WrappableModel } from '@killswitch/vercel-ai'
import { Agent } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import { describe, expect, it } from 'vitest'
// The AI SDK adapter's fixture: one copy of @ai-sdk/anthropic@2's shapes for both packages.
import {
  type AnthropicUsage,
  anthropicFetch,
  anthropicV2Model,
  CACHE_CASES,
} from '../../vercel-ai/src/testing/anthropic.js'
import { quiet } from '../test/mock-agent.js'
import { killSwitchModel } from './kill-switch-model.js'
import { killSwitchProcessor } from './kill-switch-processor.js'

// ai 7 warns of a V2 model's compatibility mode at every call: expected here.
globalThis.AI_SDK_LOG_WARNINGS = false
const MODEL_ID = 'claude-haiku-4-5'
// ~22,500 tokens of text (90,000 bytes): the reported counts fit within its input bound.
const DOC = 'The quick brown fox jumps over the lazy dog. '.repeat(2_000)

const sdks = {
  'AI SDK 5 (@ai-sdk/anthropic@2, spec V2)': (usage: AnthropicUsage) => {
    const v2 = anthropicV2Model(() => usage, MODEL_ID)
    return { model: v2.model as WrappableModel, billMicros: v2.billMicros }
  },
  'ai 7 (@ai-sdk/anthropic@4, spec V4)': (usage: AnthropicUsage) => {
    const wire = anthropicFetch(() => usage)
    const anthropic = createAnthropic({ apiKey: 'sk-ant-test', fetch: wire.fetch })
    return { model: anthropic(MODEL_ID) as WrappableModel, billMicros: wire.billMicros }
  },
}

const caches = CACHE_CASES

/** An agent on `model` through the processor or the wrapped model, on a new kill switch. */
async function cachingAgent(entry: 'processor' | 'model', model: WrappableModel) {
  const ks = createKillSwitch()
  const { credential } = await ks.agents.create({ handle: 'cache', spendingCap: 10 })
  const config = { id: 'cache', name: 'cache', instructions: 'Be brief.' }
  if (entry === 'model') {
    const wrapped = killSwitchModel(model, { killSwitch: ks, credential })
    return { ks, agent: quiet(new Agent({ ...config, model: wrapped })) }
  }
  const processor = killSwitchProcessor({ killSwitch: ks, credential })
  const agent = new Agent({
    ...config,
    // Mastra takes AI SDK 5 and ai 7 models alike; its bundled types lag the installed ones.
    model: model as unknown as MastraModelConfig,
    inputProcessors: [processor],
    outputProcessors: [processor],
  })
  return { ks, agent: quiet(agent) }
}

describe.each(Object.entries(sdks))('%s', (_sdk, anthropicModel) => {
  for (const entry of ['processor', 'model'] as const) {
    for (const { name, usage, ttl } of caches) {
      for (const mode of ['generate', 'stream'] as const) {
        it(`${entry}: ${name} (${mode}) settles Anthropic's bill to the micro-dollar`, async () => {
          const { model, billMicros } = anthropicModel(usage)
          const { ks, agent } = await cachingAgent(entry, model)
          const cacheControl = { type: 'ephemeral', ...(ttl && { ttl }) }
          const messages = [
            {
              role: 'user' as const,
              content: [
                {
                  type: 'text' as const,
                  text: DOC,
                  providerOptions: { anthropic: { cacheControl } },
                },
              ],
            },
          ]
          if (mode === 'generate') await agent.generate(messages, { maxSteps: 1 })
          else await (await agent.stream(messages, { maxSteps: 1 })).consumeStream()
          const { spent, held } = await ks.agents.get('cache')
          expect(billMicros()).toBeGreaterThan(0)
          expect(toMicros(held)).toBe(0)
          // The core rounds each call up to the next micro-dollar: exact, never under the bill.
          expect(toMicros(spent)).toBe(Math.ceil(billMicros()))
        })
      }
    }
  }
})
