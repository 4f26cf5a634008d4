// An AI SDK agent (streamText with tools) that loops on a paid web search, three ways:
//   1. it searches page after page: stopped exactly at its spending cap;
//   2. it repeats the very same search: revoked by the kill switch's loop detection;
//   3. the operator revokes it while the model is streaming: the stream ends at once.
// Offline: the model is the AI SDK's own MockLanguageModelV4, scripted to loop and to report
// usage as OpenAI would, priced as gpt-4o. README.md shows how to use a real provider.
// Run: npm run example -- vercel-ai-loop
import type { LanguageModelV4CallOptions, LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { createKillSwitch, findKillSwitchError, type KillSwitch } from '@killswitch/core'
import { guardTools, withKillSwitch } from '@killswitch/vercel-ai'
import { isStepCount, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'

/** What happened in one scenario. */
export interface ScenarioResult {
  /** The kill switch error code that stopped the run, or 'none'. */
  stoppedBy: string
  modelCalls: number
  searches: number
  spent: number
  spendingCap: number
  held: number
}

export interface ExampleResult {
  cap: ScenarioResult
  loop: ScenarioResult
  revoke: ScenarioResult & { modelCallsAfterRevoke: number }
}

const SEARCH_PRICE_USD = 0.005

/** Streams a search request every turn; `sameQuery` makes it ask the very same thing. */
function loopingModel(options: { sameQuery: boolean; onTurn?: (turn: number) => void }) {
  const model: MockLanguageModelV4 = new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o',
    doStream: async ({ prompt }: LanguageModelV4CallOptions) => {
      const turn = model.doStreamCalls.length
      options.onTurn?.(turn)
      const query = options.sameQuery ? 'agent budgets' : `agent budgets, page ${turn}`
      // Usage as a provider reports it: about four bytes of prompt per input token.
      const inputTokens = Math.ceil(JSON.stringify(prompt).length / 4)
      const parts: LanguageModelV4StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 't' },
        { type: 'text-delta', id: 't', delta: `Not enough yet, searching (turn ${turn}). ` },
        { type: 'text-end', id: 't' },
        {
          type: 'tool-call',
          toolCallId: `call_${turn}`,
          toolName: 'web_search',
          input: JSON.stringify({ query }),
        },
        {
          type: 'finish',
          finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
          usage: {
            inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: 0, cacheWrite: 0 },
            outputTokens: { total: 40, text: 40, reasoning: 0 },
          },
        },
      ]
      return { stream: ReadableStream.from(parts) }
    },
  })
  return model
}

async function runScenario(
  ks: KillSwitch,
  handle: string,
  spendingCap: number,
  model: MockLanguageModelV4,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  // Pages counting up are a loop hiding behind a counter, which loop detection throttles
  // (similar calls, slow-loop) before the cap; this scenario shows the cap, so they only warn.
  const runaway =
    handle === 'researcher-agent-7'
      ? { repeatedToolCall: { normalizedAction: 'warn' as const }, slowLoop: { enabled: false } }
      : {}
  const { credential } = await ks.agents.create({ handle, spendingCap, runaway })
  const credentials = { killSwitch: ks, credential }
  let searches = 0
  const webSearch = tool({
    description: 'Searches the web (a paid API)',
    inputSchema: z.object({ query: z.string() }),
    execute: async ({ query }) => {
      searches++
      return { results: [`result for ${query}`] }
    },
  })
  const result = streamText({
    model: withKillSwitch(model, credentials),
    tools: guardTools(
      { web_search: webSearch },
      { ...credentials, toolPrices: { web_search: SEARCH_PRICE_USD } },
    ),
    stopWhen: isStepCount(100),
    maxOutputTokens: 512,
    prompt: 'Research how teams cap what their AI agents spend.',
    onError: () => {},
  })
  let stoppedBy = 'none'
  try {
    await result.text
  } catch (error) {
    const found = findKillSwitchError(error)
    if (!found) throw error
    stoppedBy = found.code
    log(`  stopped: ${found.message}`)
  }
  const agent = await ks.agents.get(handle)
  log(
    `  ${model.doStreamCalls.length} model calls, ${searches} searches; ` +
      `spent $${agent.spent.toFixed(6)} of $${agent.spendingCap}, held $${agent.held}`,
  )
  return {
    stoppedBy,
    modelCalls: model.doStreamCalls.length,
    searches,
    spent: agent.spent,
    spendingCap: agent.spendingCap,
    held: agent.held,
  }
}

export async function main(log: (line: string) => void = console.log): Promise<ExampleResult> {
  const ks = createKillSwitch()

  log('1. an agent that searches page after page, with a $0.05 cap')
  const cap = await runScenario(
    ks,
    'researcher-agent-7',
    0.05,
    loopingModel({ sameQuery: false }),
    log,
  )

  log('2. an agent that repeats the very same search, with a $5 cap')
  const loop = await runScenario(
    ks,
    'researcher-agent-8',
    5,
    loopingModel({ sameQuery: true }),
    log,
  )

  log('3. the operator revokes an agent while its model is streaming')
  let revoking: Promise<unknown> | undefined
  const model = loopingModel({
    sameQuery: false,
    // On the third turn, someone on call pulls the switch from another task.
    onTurn: (turn) => {
      if (turn === 3)
        revoking = ks.agents.revoke('researcher-agent-9', { reason: 'paged: spend spike' })
    },
  })
  const revoke = await runScenario(ks, 'researcher-agent-9', 5, model, log)
  await revoking
  const callsAtRevoke = model.doStreamCalls.length
  log(`  after the revocation the provider was called ${callsAtRevoke - 3} more times`)

  for (const entry of (await ks.audit('researcher-agent-8')).slice(-3))
    log(`  audit: ${entry.summary}`)
  await ks.close()
  return { cap, loop, revoke: { ...revoke, modelCallsAfterRevoke: callsAtRevoke - 3 } }
}

if (import.meta.main) await main()
