// A Mastra agent that loops on a paid web search, stopped by the kill switch at its spending
// cap with a typed error; then the operator revokes it and the next run is refused.
// Offline: the model is the AI SDK's own MockLanguageModelV4, scripted to loop and to report
// token usage as a real provider would. For a real model, pass e.g. `openai('gpt-4o')` from
// @ai-sdk/openai to killSwitchModel instead. Run: npm run example -- mastra-agent
import { createKillSwitch, findKillSwitchError } from '@killswitch/core'
import { killSwitchLogFilter, killSwitchModel, killSwitchToolHooks } from '@killswitch/mastra'
import { Agent } from '@mastra/core/agent'
import { ConsoleLogger } from '@mastra/core/logger'
import { Mastra } from '@mastra/core/mastra'
import { createTool } from '@mastra/core/tools'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'

// Pages counting up are a loop hiding behind a counter, which loop detection throttles
// (similar calls, slow-loop) before the cap; this example shows the cap, so they only warn.
const CAP_STORY = {
  repeatedToolCall: { normalizedAction: 'warn' as const },
  slowLoop: { enabled: false },
}

export interface MastraExampleResult {
  /** The error code that stopped the looping run. */
  stoppedBy: string
  modelCalls: number
  searches: number
  spent: number
  spendingCap: number
  held: number
  /** The error code that refused the run after revocation. */
  afterRevocation: string
}

/** A model that asks for another search every step, like an agent that never concludes. */
function loopingModel() {
  let step = 0
  return new MockLanguageModelV4({
    // Priced as the model it stands in for, from the bundled price data.
    provider: 'openai.chat',
    modelId: 'gpt-4o',
    doGenerate: async (options) => {
      step++
      // Usage as a provider reports it: about four bytes of prompt per input token.
      const inputTokens = Math.ceil(JSON.stringify(options.prompt).length / 4)
      return {
        content: [
          { type: 'text', text: `Not enough yet, searching again (step ${step}).` },
          {
            type: 'tool-call',
            toolCallId: `call_${step}`,
            toolName: 'webSearch',
            input: JSON.stringify({ query: `agent budgets, page ${step}` }),
          },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: {
          inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: 120, text: 120, reasoning: 0 },
        },
        warnings: [],
      }
    },
  })
}

export async function runMastraExample(
  log: (line: string) => void = console.log,
): Promise<MastraExampleResult> {
  const ks = createKillSwitch()
  const provisioned = await ks.agents.create({
    handle: 'researcher-agent-7',
    spendingCap: 0.25,
    runaway: CAP_STORY,
  })
  log(`provisioned ${provisioned.handle} with a $${provisioned.spendingCap} cap`)
  const guarded = { killSwitch: ks, credential: provisioned.credential }

  let searches = 0
  const webSearch = createTool({
    id: 'webSearch',
    description: 'Paid web search ($0.01 a query)',
    inputSchema: z.object({ query: z.string() }),
    execute: async ({ query }) => {
      searches++
      return { results: 10, query }
    },
  })
  const model = loopingModel()
  const researcher = new Agent({
    id: 'researcher',
    name: 'researcher',
    instructions: 'Research the question thoroughly with web searches.',
    // Every model call is held against the cap, clamped, settled; refusals throw typed errors.
    model: killSwitchModel(model, guarded),
    tools: { webSearch },
    // The paid search is held and settled at its price around each execution.
    hooks: killSwitchToolHooks({ ...guarded, toolPrices: { webSearch: 0.01 } }),
  })
  // Registered with a Mastra instance for its logger: Mastra logs each refusal as an error
  // with its stack (twice when streaming); the kill switch's filter makes it one line and
  // leaves every other log entry alone.
  const filter = killSwitchLogFilter({ report: log })
  new Mastra({ agents: { researcher }, logger: new ConsoleLogger({ filter }) })

  let stoppedBy = 'nothing'
  try {
    await researcher.generate('Research agent budget overruns.', { maxSteps: 1_000 })
  } catch (error) {
    // The model wrapper keeps the class: this is a SpendingCapExceededError itself.
    const found = findKillSwitchError(error)
    stoppedBy = found?.code ?? 'unexpected error'
    log(`stopped: ${found?.message ?? String(error)}`)
  }
  const modelCalls = model.doGenerateCalls.length
  const state = await ks.agents.get(provisioned.handle)
  log(
    `spent $${state.spent} of $${state.spendingCap}: ${modelCalls} model calls, ${searches} searches`,
  )

  await ks.agents.revoke(provisioned.handle, { reason: 'looping on paid search' })
  let afterRevocation = 'nothing'
  try {
    await researcher.generate('Try again.', { maxSteps: 1_000 })
  } catch (error) {
    afterRevocation = findKillSwitchError(error)?.code ?? 'unexpected error'
    log(`after revocation: ${findKillSwitchError(error)?.message ?? String(error)}`)
  }

  log('audit trail (last 4):')
  for (const entry of (await ks.audit(provisioned.handle)).slice(-4)) {
    log(`  ${entry.type.padEnd(9)} ${entry.summary}`)
  }
  const final = await ks.agents.get(provisioned.handle)
  await ks.close()
  return {
    stoppedBy,
    modelCalls,
    searches,
    spent: final.spent,
    spendingCap: final.spendingCap,
    held: final.held,
    afterRevocation,
  }
}

if (import.meta.main) await runMastraExample()
