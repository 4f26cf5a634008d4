// What the kill switch adds to an AI SDK call: generateText and streamText on the bare mock
// model against the same model wrapped with the middleware, measured in the same run
// (tinybench). The ledger is the in-memory store with a large cap, so this is the
// middleware's and the guard's own cost, not a network store's. Runaway detection is off:
// thousands of calls a second would (rightly) trip the call-rate detector.
// Run alone: npm run x -- node packages/vercel-ai/bench/overhead.ts (after a build)
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { createKillSwitch } from '@killswitch/core'
import { withKillSwitch } from '@killswitch/vercel-ai'
import { generateText, streamText } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { Bench } from 'tinybench'

export interface OverheadRow {
  name: string
  baselineMedianUs: number
  guardedMedianUs: number
  ratio: number
}

const MODEL = 'bench-model'
const TEXT = 'The quarterly report shows revenue up 12% on the back of the new enterprise tier.'
const usage = {
  inputTokens: { total: 120, noCache: 120, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 24, text: 24, reasoning: 0 },
}

function mockModel(): MockLanguageModelV4 {
  return new MockLanguageModelV4({
    provider: 'bench.chat',
    modelId: MODEL,
    doGenerate: async () => ({
      content: [{ type: 'text', text: TEXT }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage,
      warnings: [],
    }),
    doStream: async () => {
      // A realistic chunking: one delta per word.
      const words = TEXT.split(/(?<= )/)
      const parts: LanguageModelV4StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 't' },
        ...words.map((delta) => ({ type: 'text-delta' as const, id: 't', delta })),
        { type: 'text-end', id: 't' },
        { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage },
      ]
      return { stream: ReadableStream.from(parts) }
    },
  })
}

export async function benchVercelAiOverhead(): Promise<OverheadRow[]> {
  const ks = createKillSwitch({
    prices: { [MODEL]: { inputPerMTok: 0.001, outputPerMTok: 0.001 } },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'bench-agent', spendingCap: 1_000_000 })
  const bare = mockModel()
  const wrapped = mockModel()
  const guarded = withKillSwitch(wrapped, { killSwitch: ks, credential })
  const prompt = 'Summarise the report.'
  // The mocks log every call: cleared after each task so memory stays flat.
  const clear = () => {
    for (const model of [bare, wrapped]) {
      model.doGenerateCalls.length = 0
      model.doStreamCalls.length = 0
    }
  }

  const pairs: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
    [
      'generateText',
      () => generateText({ model: bare, prompt }),
      () => generateText({ model: guarded, prompt }),
    ],
    [
      'streamText (read to the end)',
      async () => await streamText({ model: bare, prompt }).text,
      async () => await streamText({ model: guarded, prompt }).text,
    ],
  ]

  const bench = new Bench({ time: 1_000, warmupTime: 200, teardown: clear })
  for (const [name, baseline, withGuard] of pairs) {
    bench.add(`${name} (baseline)`, baseline)
    bench.add(`${name} (guarded)`, withGuard)
  }
  await bench.run()
  await ks.close()

  const medianUs = (taskName: string): number => {
    const result = bench.getTask(taskName)?.result
    if (result === undefined || !('latency' in result)) {
      throw new Error(`benchmark task "${taskName}" did not complete`)
    }
    return result.latency.p50 * 1000
  }
  return pairs.map(([name]) => {
    const baselineMedianUs = medianUs(`${name} (baseline)`)
    const guardedMedianUs = medianUs(`${name} (guarded)`)
    return {
      name,
      baselineMedianUs: round(baselineMedianUs),
      guardedMedianUs: round(guardedMedianUs),
      ratio: round(guardedMedianUs / baselineMedianUs),
    }
  })
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}

if (import.meta.main) console.table(await benchVercelAiOverhead())
