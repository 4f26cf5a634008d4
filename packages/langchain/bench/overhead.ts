// What the kill switch adds to a LangChain call. The target rows ("vs a no-op ...") put each
// hook beside a no-op hook of the same kind: the callback handler against an awaited handler
// that does nothing, the middleware against a middleware with the same hooks (beforeModel,
// wrapModelCall, wrapToolCall) that only pass through. The other rows are context: the bare
// model or agent, which includes LangChain's own hook machinery. Baseline and guarded take
// turns call by call (bench/side-by-side.ts). The ledger is the in-memory store, so this is the
// adapter's and the guard's own cost, not a network store's. Runaway detection is off here:
// thousands of calls a second would (rightly) trip the call-rate detector.
// Run alone: npm run x -- node packages/langchain/bench/overhead.ts
import { createKillSwitch } from '@killswitch/core'
import { KillSwitchCallbackHandler, killSwitchMiddleware } from '@killswitch/langchain'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import { HumanMessage } from '@langchain/core/messages'
import { FakeListChatModel } from '@langchain/core/utils/testing'
import { createAgent, createMiddleware } from 'langchain'
import {
  type SideBySideOptions,
  type SideBySidePair,
  type SideBySideRow,
  sideBySide,
} from '../../../bench/side-by-side.ts'

export type { SideBySideRow as OverheadRow } from '../../../bench/side-by-side.ts'

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

export async function benchLangchainOverhead(
  options: SideBySideOptions = {},
): Promise<SideBySideRow[]> {
  // No client retries: the kill switch refuses a model that retries inside one guarded call.
  const model = () => new FakeListChatModel({ responses: ['ok, done'], maxRetries: 0 })
  const forHandler = await guardedAgent()
  const forHandlerVsNoop = await guardedAgent()
  const forMiddleware = await guardedAgent()
  const forMiddlewareVsNoop = await guardedAgent()
  const [bareModel, noopModel, guardedModel, guardedModel2] = [model(), model(), model(), model()]
  const noop = new NoopHandler()
  const handler = new KillSwitchCallbackHandler(forHandler)
  const handler2 = new KillSwitchCallbackHandler(forHandlerVsNoop)
  const noopMiddleware = createMiddleware({
    name: 'NoopMiddleware',
    beforeModel: async () => undefined,
    wrapModelCall: async (request, handler) => handler(request),
    wrapToolCall: async (request, handler) => handler(request),
  })
  const agentWith = (middleware: Array<ReturnType<typeof createMiddleware>>) =>
    createAgent({ model: model(), tools: [], middleware })
  const bareAgent = agentWith([])
  const noopAgent = agentWith([noopMiddleware])
  const guardedAgentRunnable = agentWith([killSwitchMiddleware(forMiddleware)])
  const guardedAgentRunnable2 = agentWith([killSwitchMiddleware(forMiddlewareVsNoop)])
  const input = { messages: [new HumanMessage('Summarise the report.')] }
  const prompt = 'Summarise the report.'

  const pairs: SideBySidePair[] = [
    [
      'chat model invoke: callback handler',
      () => bareModel.invoke(prompt),
      () => guardedModel.invoke(prompt, { callbacks: [handler] }),
    ],
    [
      'chat model invoke: callback handler vs a no-op handler',
      () => noopModel.invoke(prompt, { callbacks: [noop] }),
      () => guardedModel2.invoke(prompt, { callbacks: [handler2] }),
    ],
    [
      'createAgent one turn: middleware',
      () => bareAgent.invoke(input),
      () => guardedAgentRunnable.invoke(input),
    ],
    [
      'createAgent one turn: middleware vs a no-op middleware',
      () => noopAgent.invoke(input),
      () => guardedAgentRunnable2.invoke(input),
    ],
  ]
  const rows = await sideBySide(pairs, options)
  for (const { killSwitch } of [forHandler, forHandlerVsNoop, forMiddleware, forMiddlewareVsNoop])
    await killSwitch.close()
  return rows
}

if (import.meta.main) console.table(await benchLangchainOverhead())
