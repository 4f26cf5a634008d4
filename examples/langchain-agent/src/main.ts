// A LangChain v1 agent (createAgent) that loops on a paid web search, stopped by the kill
// switch at its spending cap; then the operator revokes it and the next run is refused.
// Offline: the model is LangChain's own fake, scripted to loop and to report token usage
// as a real provider would. Run: npm run example -- langchain-agent
import { createKillSwitch, findKillSwitchError } from '@killswitch/core'
import { killSwitchMiddleware } from '@killswitch/langchain'
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages'
import { fakeModel } from '@langchain/core/testing'
import { createAgent, tool } from 'langchain'
import { z } from 'zod'

// Pages counting up are a loop hiding behind a counter, which loop detection throttles
// (similar calls, slow-loop) before the cap; this example shows the cap, so they only warn.
const CAP_STORY = {
  repeatedToolCall: { normalizedAction: 'warn' as const },
  slowLoop: { enabled: false },
}

export interface LangchainExampleResult {
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

/** The fake model asks for another search every turn, like an agent that never concludes. */
function loopingModel() {
  const model = fakeModel()
  // No client retries, or the kill switch refuses the model (one hold would pay for every
  // attempt): fakeModel() takes no fields, so its caller keeps LangChain's default of 6.
  Object.assign(model.caller, { maxRetries: 0 })
  for (let turn = 1; turn <= 200; turn++) {
    model.respond((messages: BaseMessage[]) => {
      // Usage as a provider reports it: about four bytes of prompt per input token.
      const promptBytes = JSON.stringify(messages).length
      return new AIMessage({
        content: `Not enough yet, searching again (turn ${turn}).`,
        tool_calls: [
          {
            name: 'web_search',
            args: { query: `agent budgets, page ${turn}` },
            id: `call_${turn}`,
          },
        ],
        usage_metadata: {
          input_tokens: Math.ceil(promptBytes / 4),
          output_tokens: 120,
          total_tokens: Math.ceil(promptBytes / 4) + 120,
        },
      })
    })
  }
  return model
}

export async function runLangchainExample(
  log: (line: string) => void = console.log,
): Promise<LangchainExampleResult> {
  const ks = createKillSwitch()
  const agent = await ks.agents.create({
    handle: 'researcher-agent-7',
    spendingCap: 0.5,
    runaway: CAP_STORY,
  })
  log(`provisioned ${agent.handle} with a $${agent.spendingCap} cap`)

  let searches = 0
  const webSearch = tool(
    async ({ query }) => {
      searches++
      return `10 results for "${query}"`
    },
    { name: 'web_search', description: 'Paid web search', schema: z.object({ query: z.string() }) },
  )
  const model = loopingModel()
  // The fake reports no model name: say which model it stands in for, so it is priced as one.
  const killSwitch = killSwitchMiddleware({
    killSwitch: ks,
    credential: agent.credential,
    model: 'claude-opus-4-0',
    provider: 'anthropic',
    toolPrices: { web_search: 0.01 },
  })
  const researcher = createAgent({
    model,
    tools: [webSearch],
    // The kill switch first: outside any retry middleware, so its refusals reach the caller.
    middleware: [killSwitch],
    signal: killSwitch.signal,
  })
  const question = { messages: [new HumanMessage('Research agent budget overruns.')] }

  let stoppedBy = 'nothing'
  try {
    await researcher.invoke(question, { recursionLimit: 1_000 })
  } catch (error) {
    // LangChain wraps errors from wrapModelCall in a MiddlewareError: find ours inside.
    const found = findKillSwitchError(error)
    stoppedBy = found?.code ?? 'unexpected error'
    log(`stopped: ${found?.message ?? String(error)}`)
  }
  const modelCalls = model.callCount
  const state = await ks.agents.get(agent.handle)
  log(
    `spent $${state.spent} of $${state.spendingCap}: ${modelCalls} model calls, ${searches} searches`,
  )

  await ks.agents.revoke(agent.handle, { reason: 'looping on paid search' })
  let afterRevocation = 'nothing'
  try {
    await researcher.invoke(question)
  } catch (error) {
    afterRevocation = findKillSwitchError(error)?.code ?? 'unexpected error'
    log(`after revocation: ${findKillSwitchError(error)?.message ?? String(error)}`)
  }

  log('audit trail (last 4):')
  for (const entry of (await ks.audit(agent.handle)).slice(-4)) {
    log(`  ${entry.type.padEnd(9)} ${entry.summary}`)
  }
  const final = await ks.agents.get(agent.handle)
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

if (import.meta.main) await runLangchainExample()
