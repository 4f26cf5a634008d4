// What the kill switch adds to a Mastra agent run: the same Agent on the bare mock model,
// then with the model wrapper and with the processor, generate and stream, measured in the
// same run (tinybench). The ledger is the in-memory store, so this is the adapter's and the
// guard's own cost, not a network store's. Runaway detection is off here: thousands of calls
// a second would (rightly) trip the call-rate detector.
// Run alone: npm run x -- node packages/mastra/bench/overhead.ts
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { createKillSwitch } from '@killswitch/core'
import { killSwitchModel, killSwitchProcessor } from '@killswitch/mastra'
import { Agent, type AgentConfig } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import { Mastra } from '@mastra/core/mastra'
import type { Processor } from '@mastra/core/processors'
import { MockLanguageModelV4 } from 'ai/test'
import { Bench } from 'tinybench'

export interface OverheadRow {
  name: string
  baselineMedianUs: number
  guardedMedianUs: number
  ratio: number
}

const MODEL = 'bench-model'
const ROUNDS = 9
const usage = {
  inputTokens: { total: 20, noCache: 20, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 5, text: 5, reasoning: 0 },
}
const finishReason = { unified: 'stop' as const, raw: 'stop' }

/** A one-step answer, generate and stream. */
function mockModel() {
  return new MockLanguageModelV4({
    provider: 'mock',
    modelId: MODEL,
    doGenerate: async () => ({
      content: [{ type: 'text', text: 'ok, done' }],
      finishReason,
      usage,
      warnings: [],
    }),
    doStream: async () => ({
      stream: new ReadableStream<LanguageModelV4StreamPart>({
        start(controller) {
          controller.enqueue({ type: 'stream-start', warnings: [] })
          controller.enqueue({ type: 'text-start', id: 't' })
          controller.enqueue({ type: 'text-delta', id: 't', delta: 'ok, done' })
          controller.enqueue({ type: 'text-end', id: 't' })
          controller.enqueue({ type: 'finish', finishReason, usage })
          controller.close()
        },
      }),
    }),
  })
}

/** @mastra/core 1.71's bundled provider types predate ai 7's (see killSwitchModel). */
const asMastraModel = (model: MockLanguageModelV4) => model as unknown as MastraModelConfig

export async function benchMastraOverhead(): Promise<OverheadRow[]> {
  const ks = createKillSwitch({
    prices: { [MODEL]: { inputPerMTok: 0.001, outputPerMTok: 0.001 } },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'bench-agent', spendingCap: 1_000_000 })
  const guard = { killSwitch: ks, credential }
  const agent = (id: string, options: Omit<AgentConfig, 'id' | 'name' | 'instructions'>) =>
    new Agent({ id, name: id, instructions: 'Answer briefly.', ...options })

  const processor = killSwitchProcessor(guard)
  // Any processor costs Mastra a processor workflow per run: this one does nothing, to
  // separate Mastra's processor machinery from the kill switch's own work.
  const noop = {
    id: 'noop',
    processInputStep: () => undefined,
    processOutputStream: async ({ part }) => part,
  } satisfies Processor
  const agents = {
    bare: agent('bare', { model: asMastraModel(mockModel()) }),
    wrapped: agent('wrapped', { model: killSwitchModel(mockModel(), guard) }),
    processed: agent('processed', {
      model: asMastraModel(mockModel()),
      inputProcessors: [processor],
      outputProcessors: [processor],
    }),
    noop: agent('noop', {
      model: asMastraModel(mockModel()),
      inputProcessors: [noop],
      outputProcessors: [noop],
    }),
  }
  // Silences Mastra's logger, as an application would configure it.
  new Mastra({ agents, logger: false })

  type BenchAgent = ReturnType<typeof agent>
  const generate = (which: BenchAgent) => () => which.generate('Summarise the report.')
  const stream = (which: BenchAgent) => async () => {
    const output = await which.stream('Summarise the report.')
    await output.consumeStream()
  }
  const pairs: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
    ['agent.generate: killSwitchModel', generate(agents.bare), generate(agents.wrapped)],
    ['agent.stream: killSwitchModel', stream(agents.bare), stream(agents.wrapped)],
    ['agent.generate: killSwitchProcessor', generate(agents.bare), generate(agents.processed)],
    ['agent.stream: killSwitchProcessor', stream(agents.bare), stream(agents.processed)],
    [
      'agent.stream: killSwitchProcessor vs a no-op processor',
      stream(agents.noop),
      stream(agents.processed),
    ],
  ]
  // Warm every path first: the first task measured would otherwise pay for the JIT.
  for (const [, bare, guarded] of pairs) {
    for (let i = 0; i < 50; i++) {
      await bare()
      await guarded()
    }
  }

  // Several short rounds, baseline and guarded side by side in each, and the median of the
  // rounds' medians: load from other processes drifts over seconds, and this way it weighs
  // on both sides alike instead of on whichever task ran during a busy second.
  const rounds: Array<Map<string, number>> = []
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 200, warmupTime: 50 })
    for (const [name, bare, guarded] of pairs) {
      bench.add(`${name} (baseline)`, bare)
      bench.add(`${name} (guarded)`, guarded)
    }
    await bench.run()
    const medians = new Map<string, number>()
    for (const task of bench.tasks) {
      const result = task.result
      if (result === undefined || !('latency' in result)) {
        throw new Error(`benchmark task "${task.name}" did not complete`)
      }
      medians.set(task.name, result.latency.p50 * 1000)
    }
    rounds.push(medians)
  }
  await ks.close()

  const medianUs = (taskName: string): number =>
    median(rounds.map((medians) => medians.get(taskName) ?? Number.NaN))
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}

if (import.meta.main) console.table(await benchMastraOverhead())
