// The AI SDK's tool approval for a paid tool, decided by the kill switch's cap: while a
// search fits the cap it runs; the first one past it opens a kill switch approval request
// (approvals on, waitMs: 0) and the AI SDK pauses the run with a `tool-approval-request`.
// A person decides: approved, the grant goes in the ledger, the run resumes with a
// `tool-approval-response` and the search runs under the grant; denied, the search never
// runs and the model answers without it. Offline: the AI SDK's MockLanguageModelV4.
// Run: npm run example -- approvals-vercel-ai
import type { LanguageModelV4CallOptions, LanguageModelV4GenerateResult } from '@ai-sdk/provider'
import {
  type AgentGuard,
  createKillSwitch,
  findKillSwitchError,
  type KillSwitch,
} from '@killswitch/core'
import { guardTools, withKillSwitch } from '@killswitch/vercel-ai'
import { generateText, isStepCount, type ModelMessage, type ToolApprovalStatus, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'

const SEARCH_PRICE_USD = 0.01

export interface RunResult {
  /** The kill switch request the paused run waited on. */
  approvalId: string | undefined
  /** The AI SDK's approval request carried it in its reason. */
  sdkReason: string | undefined
  searches: number
  answer: string
  spent: number
  spendingCap: number
  held: number
  /** The approval entries of the audit log, in order. */
  audited: string[]
}

/** Searches until it has two results (or was refused one), then answers. */
function researchModel() {
  return new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o-mini',
    doGenerate: async ({ prompt }: LanguageModelV4CallOptions) => {
      const results = prompt.flatMap((message) =>
        message.role === 'tool'
          ? message.content.filter((part) => part.type === 'tool-result')
          : [],
      )
      const denied = results.some((part) => part.output.type === 'execution-denied')
      const usage = {
        inputTokens: { total: 400, noCache: 400, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 60, text: 60, reasoning: 0 },
      }
      const result: LanguageModelV4GenerateResult =
        denied || results.length >= 2
          ? {
              content: [
                {
                  type: 'text',
                  text: denied ? 'Answer from one search.' : 'Answer from two searches.',
                },
              ],
              finishReason: { unified: 'stop', raw: 'stop' },
              usage,
              warnings: [],
            }
          : {
              content: [
                {
                  type: 'tool-call',
                  toolCallId: `call_${results.length + 1}`,
                  toolName: 'web_search',
                  input: JSON.stringify({ query: `agent budgets, page ${results.length + 1}` }),
                },
              ],
              finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
              usage,
              warnings: [],
            }
      return result
    },
  })
}

/**
 * Asks the ledger whether a paid call fits: a hold that fits is given back at once (nothing
 * left); one past the cap opens (or joins) the agent's approval request, whose id it returns.
 */
async function approvalNeeded(guard: AgentGuard, name: string): Promise<string | undefined> {
  try {
    const probe = await guard.reserveSpend({
      amountUsd: SEARCH_PRICE_USD,
      kind: 'tool',
      description: `tool ${name}`,
    })
    await guard.releaseSpend(probe, { reason: 'probe' })
    return undefined
  } catch (error) {
    const found = findKillSwitchError(error)
    if (found?.code !== 'approval_required') throw error
    return (found as typeof found & { approvalId: string }).approvalId
  }
}

async function research(
  ks: KillSwitch,
  handle: string,
  decide: 'approve' | 'deny',
  log: (line: string) => void,
): Promise<RunResult> {
  const agent = await ks.agents.create({
    handle,
    spendingCap: 0.015,
    approvals: { enabled: true, waitMs: 0 },
  })
  // The paid tool's price belongs to the guard that runs it.
  const guard = ks.guard(agent.credential, { toolPrices: { web_search: SEARCH_PRICE_USD } })
  let searches = 0
  const webSearch = tool({
    description: 'Searches the web (a paid API)',
    inputSchema: z.object({ query: z.string() }),
    execute: async ({ query }) => {
      searches++
      return { results: [`result for ${query}`] }
    },
  })
  const settings = {
    model: withKillSwitch(researchModel(), { guard }),
    tools: guardTools({ web_search: webSearch }, { guard }),
    // The AI SDK asks a person about a paid search only when the cap would refuse it.
    toolApproval: {
      web_search: async (): Promise<ToolApprovalStatus> => {
        const approvalId = await approvalNeeded(guard, 'web_search')
        return approvalId === undefined
          ? 'not-applicable'
          : { type: 'user-approval', reason: `past the cap: kill switch request ${approvalId}` }
      },
    },
    stopWhen: isStepCount(10),
  }
  const messages: ModelMessage[] = [{ role: 'user', content: 'Research agent budget overruns.' }]

  const first = await generateText({ ...settings, messages })
  messages.push(...first.responseMessages)
  const request = first.content.find((part) => part.type === 'tool-approval-request')
  const approvalId = request?.reason?.match(/apr_[\w-]+/)?.[0]
  log(`${handle}: paused after ${searches} search(es); the AI SDK asks: ${request?.reason}`)
  if (!request || !approvalId) throw new Error('expected the run to pause for approval')

  // The person decides once; the kill switch and the AI SDK each get the decision.
  if (decide === 'approve') {
    await ks.approvals.approve(approvalId, { amount: 0.02, ttlMs: 600_000 })
  } else {
    await ks.approvals.deny(approvalId, { reason: 'enough searching' })
  }
  log(`${handle}: ${decide === 'approve' ? 'approved (up to $0.02 more)' : 'denied'}`)
  messages.push({
    role: 'tool',
    content: [
      {
        type: 'tool-approval-response',
        approvalId: request.approvalId,
        approved: decide === 'approve',
        ...(decide === 'deny' ? { reason: 'enough searching' } : {}),
      },
    ],
  })

  const second = await generateText({ ...settings, messages })
  const state = await ks.agents.get(handle)
  log(`${handle}: "${second.text}" after ${searches} search(es), spent $${state.spent}`)
  const audited = (await ks.audit(handle))
    .filter((entry) => entry.type === 'approval')
    .map((entry) => String(entry.data.event))
  return {
    approvalId,
    sdkReason: request.reason,
    searches,
    answer: second.text,
    spent: state.spent,
    spendingCap: state.spendingCap,
    held: state.held,
    audited,
  }
}

export async function runVercelAiApprovals(
  log: (line: string) => void = console.log,
): Promise<{ approved: RunResult; denied: RunResult }> {
  // Loop detection off: this example is about the cap.
  const ks = createKillSwitch({ runaway: false })
  ks.on('approval_requested', (event) =>
    log(`approval_requested ${event.id} for ${event.handle}: ${event.reason}`),
  )
  const approved = await research(ks, 'researcher-approved', 'approve', log)
  const denied = await research(ks, 'researcher-denied', 'deny', log)
  await ks.close()
  return { approved, denied }
}

if (import.meta.main) await runVercelAiApprovals()
