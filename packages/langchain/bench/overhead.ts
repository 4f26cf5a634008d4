// What the kill switch adds to a LangChain call: the bare fake model against the same model
// with the callback handler, and a one-turn createAgent run without and with the middleware,
// measured in the same run (tinybench). The ledger is the in-memory store, so this is the
// adapter's and the guard's own cost, not a network store's. Runaway detection is off here:
// thousands of calls a second would (rightly) trip the call-rate detector.
// Run alone: npm run x -- node packages/langchain/bench/overhead.ts
import { createKillSwitch } from '@killswitch/core'
import { KillSwitchCallbackHandler, killSwitchMiddleware } from '@killswitch/langchain'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import { HumanMessage } from '@langchain/core/messages'
import { FakeListChatModel } from '@langchain/core/utils/testing'
import { createAgent } from 'langchain'
import { Bench } from 'tinybench'

export interface OverheadRow {
  name: string
  baselineMedianUs: number
  guardedMedianUs: number
  ratio: number
}

const MODEL = 'bench-model'

/** An awaited handler that does nothing: what any awaited LangChain callback costs. */
class NoopHandler extends BaseCallbackHandler {
  name = 'NoopHandler'
  constructor() {
    super({ raiseError: true })
  }
  override async handleChatModelStart(): Promise<void> {}
  override async handleLLMEnd(): Promise<void> {}
}

/** A kill switch and agent of its own per scenario, so one's ledger history cannot slow another. */
async function guardedAgent() {
  const ks = createKillSwitch({
    prices: { [MODEL]: { inputPerMTok: 0.001, outputPerMTok: 0.001 } },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'bench-agent', spendingCap: 1_000_000 })
  return { killSwitch: ks, credential, model: MODEL }
}

export async function benchLangchainOverhead(): Promise<OverheadRow[]> {
  const model = () => new FakeListChatModel({ responses: ['ok, done'] })
  const forHandler = await guardedAgent()
  const forHandlerVsNoop = await guardedAgent()
  const forMiddleware = await guardedAgent()

  const bareModel = model()
  const noopModel = model()
  const guardedModel = model()
  const guardedModel2 = model()
  const noop = new NoopHandler()
  const handler = new KillSwitchCallbackHandler(forHandler)
  const handler2 = new KillSwitchCallbackHandler(forHandlerVsNoop)
  const bareAgent = createAgent({ model: model(), tools: [] })
  const guardedAgentRunnable = createAgent({
    model: model(),
    tools: [],
    middleware: [killSwitchMiddleware(forMiddleware)],
  })
  const input = { messages: [new HumanMessage('Summarise the report.')] }

  const pairs: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
    [
      'chat model invoke: callback handler',
      () => bareModel.invoke('Summarise the report.'),
      () => guardedModel.invoke('Summarise the report.', { callbacks: [handler] }),
    ],
    [
      // Separates LangChain's own callback machinery from the kill switch's work.
      'chat model invoke: callback handler vs a no-op handler',
      () => noopModel.invoke('Summarise the report.', { callbacks: [noop] }),
      () => guardedModel2.invoke('Summarise the report.', { callbacks: [handler2] }),
    ],
    [
      'createAgent one turn: middleware',
      () => bareAgent.invoke(input),
      () => guardedAgentRunnable.invoke(input),
    ],
  ]

  const bench = new Bench({ time: 2_000, warmupTime: 500 })
  for (const [name, bare, guarded] of pairs) {
    bench.add(`${name} (baseline)`, bare)
    bench.add(`${name} (guarded)`, guarded)
  }
  await bench.run()
  for (const { killSwitch } of [forHandler, forHandlerVsNoop, forMiddleware])
    await killSwitch.close()

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

if (import.meta.main) console.table(await benchLangchainOverhead())
