// What the frameworks' own hooks cost with no kill switch in them: the bare mock model
// against the same model behind a middleware that does nothing, of the same shape as the
// kill switch's (AI SDK: wrapGenerate and wrapStream, the stream piped through an identity
// TransformStream; LangChain createAgent: beforeModel, wrapModelCall and wrapToolCall). It
// tells apart, in the adapter overheads, what any middleware costs from what the kill switch
// adds. Baseline and no-op run side by side in several short rounds (median of the rounds'
// medians), so drifting load weighs on both alike.
// Run alone: npm run x -- node bench/framework-baselines.ts
import { HumanMessage } from '@langchain/core/messages'
import { FakeListChatModel } from '@langchain/core/utils/testing'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import { createAgent, createMiddleware } from 'langchain'
import { Bench } from 'tinybench'
import { mockModel, noopMiddleware } from '../packages/vercel-ai/bench/overhead.ts'
import { median } from './stats.ts'

export interface FrameworkBaselineRow {
  adapter: 'vercel-ai' | 'langchain'
  /** The adapter overhead scenario (row name) this baseline explains. */
  scenario: string
  name: string
  baselineMedianUs: number
  /** With the no-op middleware. */
  guardedMedianUs: number
  ratio: number
}

// The AI SDK's model and no-op middleware are the adapter bench's own, so both measure the same.

/**
 * No-op middleware against the bare model, AI SDK and LangChain createAgent.
 *
 * @example
 * for (const row of await benchFrameworkBaselines()) console.log(row.name, row.ratio)
 */
export async function benchFrameworkBaselines(
  options: { rounds?: number } = {},
): Promise<FrameworkBaselineRow[]> {
  const rounds = options.rounds ?? 5
  const bare = mockModel()
  const inner = mockModel()
  const wrapped = wrapLanguageModel({ model: inner, middleware: noopMiddleware })
  const prompt = 'Summarise the report.'
  const clear = () => {
    for (const model of [bare, inner]) {
      model.doGenerateCalls.length = 0
      model.doStreamCalls.length = 0
    }
  }

  const noop = createMiddleware({
    name: 'NoopMiddleware',
    beforeModel: async () => undefined,
    wrapModelCall: async (request, handler) => handler(request),
    wrapToolCall: async (request, handler) => handler(request),
  })
  // The same without beforeModel: that hook is a graph node of its own in createAgent.
  const noopWrapOnly = createMiddleware({
    name: 'NoopWrapMiddleware',
    wrapModelCall: async (request, handler) => handler(request),
    wrapToolCall: async (request, handler) => handler(request),
  })
  const fake = () => new FakeListChatModel({ responses: ['ok, done'] })
  const bareAgent = createAgent({ model: fake(), tools: [] })
  const noopAgent = createAgent({ model: fake(), tools: [], middleware: [noop] })
  const wrapOnlyAgent = createAgent({ model: fake(), tools: [], middleware: [noopWrapOnly] })
  const input = { messages: [new HumanMessage(prompt)] }

  const pairs: Array<{
    adapter: FrameworkBaselineRow['adapter']
    scenario: string
    name: string
    bare: () => Promise<unknown>
    noop: () => Promise<unknown>
  }> = [
    {
      adapter: 'vercel-ai',
      scenario: 'generateText',
      name: 'generateText: no-op middleware',
      bare: () => generateText({ model: bare, prompt }),
      noop: () => generateText({ model: wrapped, prompt }),
    },
    {
      adapter: 'vercel-ai',
      scenario: 'streamText (read to the end)',
      name: 'streamText: no-op middleware (identity TransformStream)',
      bare: async () => await streamText({ model: bare, prompt }).text,
      noop: async () => await streamText({ model: wrapped, prompt }).text,
    },
    {
      adapter: 'langchain',
      scenario: 'createAgent one turn: middleware',
      name: 'createAgent one turn: no-op middleware (beforeModel, wrapModelCall, wrapToolCall)',
      bare: () => bareAgent.invoke(input),
      noop: () => noopAgent.invoke(input),
    },
    {
      adapter: 'langchain',
      scenario: 'createAgent one turn: middleware',
      name: 'createAgent one turn: no-op middleware without beforeModel (wrapModelCall, wrapToolCall)',
      bare: () => bareAgent.invoke(input),
      noop: () => wrapOnlyAgent.invoke(input),
    },
  ]
  for (const pair of pairs) {
    for (let i = 0; i < 50; i++) {
      await pair.bare()
      await pair.noop()
    }
  }
  clear()

  const medians = new Map<string, number[]>()
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: 200, warmupTime: 50, teardown: clear })
    for (const pair of pairs) {
      bench.add(`${pair.name} (bare)`, pair.bare)
      bench.add(`${pair.name} (no-op)`, pair.noop)
    }
    await bench.run()
    for (const task of bench.tasks) {
      const result = task.result
      if (result === undefined || !('latency' in result)) {
        throw new Error(`benchmark task "${task.name}" did not complete`)
      }
      medians.set(task.name, [...(medians.get(task.name) ?? []), result.latency.p50 * 1_000])
    }
  }
  const medianUs = (name: string) => median(medians.get(name) ?? [Number.NaN])
  return pairs.map(({ adapter, scenario, name }) => {
    const baselineMedianUs = medianUs(`${name} (bare)`)
    const guardedMedianUs = medianUs(`${name} (no-op)`)
    return {
      adapter,
      scenario,
      name,
      baselineMedianUs,
      guardedMedianUs,
      ratio: guardedMedianUs / baselineMedianUs,
    }
  })
}

if (import.meta.main) console.table(await benchFrameworkBaselines())
