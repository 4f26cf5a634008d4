// LangChain's human-in-the-loop at the spending cap: a createAgent research run reaches its
// cap, the kill switch opens an approval request (approvals on, waitMs: 0: fail at once,
// LangGraph does the waiting), and a small middleware turns that ApprovalRequiredError into
// LangGraph's `interrupt`. The run pauses in its checkpointer (MemorySaver); a person
// approves with ks.approvals.approve; `Command({ resume })` on the same thread resumes it,
// and it finishes under the grant. Offline: LangChain's own scripted fake model.
// Run: npm run example -- approvals-langchain
import { createKillSwitch, findKillSwitchError } from '@killswitch/core'
import { killSwitchMiddleware } from '@killswitch/langchain'
import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { fakeModel } from '@langchain/core/testing'
import { Command, interrupt, MemorySaver } from '@langchain/langgraph'
import { createAgent, createMiddleware, tool } from 'langchain'
import { z } from 'zod'

const SEARCHES = 3

export interface LangchainApprovalResult {
  /** What the paused run surfaced: the approval it waits for. */
  interrupted: { approvalId: string; handle: string } | undefined
  /** The request the person decided, and how. */
  decided: { id: string; status: string }
  /** The approval entries of the audit log, in order. */
  audited: string[]
  searches: number
  answer: string
  spent: number
  spendingCap: number
  held: number
}

/** Scripted: three paid searches, then an answer. Usage is reported as a provider would. */
function researchModel() {
  const model = fakeModel()
  // No client retries, or the kill switch refuses the model (one hold would pay for every
  // attempt): fakeModel() takes no fields, so its caller keeps LangChain's default of 6.
  Object.assign(model.caller, { maxRetries: 0 })
  const usage = { input_tokens: 400, output_tokens: 60, total_tokens: 460 }
  for (let turn = 1; turn <= SEARCHES; turn++) {
    model.respond(
      new AIMessage({
        content: '',
        tool_calls: [
          { name: 'web_search', args: { query: `budgets, page ${turn}` }, id: `c${turn}` },
        ],
        usage_metadata: usage,
      }),
    )
  }
  model.respond(new AIMessage({ content: 'Answer: caps need approvals.', usage_metadata: usage }))
  return model
}

/**
 * Outside the kill switch: a call refused with ApprovalRequiredError pauses the run with
 * `interrupt` instead of failing it. Resumed, LangGraph runs the node again from its start,
 * so the call is simply tried again, now under the person's grant.
 */
const pauseForApproval = createMiddleware({
  name: 'PauseForApproval',
  wrapModelCall: async (request, handler) => {
    try {
      return await handler(request)
    } catch (error) {
      askAPerson(error)
      return handler(request)
    }
  },
  wrapToolCall: async (request, handler) => {
    try {
      return await handler(request)
    } catch (error) {
      askAPerson(error)
      return handler(request)
    }
  },
})

function askAPerson(error: unknown): void {
  // LangChain wraps middleware errors: find the kill switch's ApprovalRequiredError inside.
  const found = findKillSwitchError(error)
  if (found?.code !== 'approval_required') throw error
  const { approvalId, handle } = found as typeof found & { approvalId: string; handle: string }
  // Throws GraphInterrupt: the run stops here, its state safe in the checkpointer.
  interrupt({ approvalId, handle })
}

export async function runLangchainApprovals(
  log: (line: string) => void = console.log,
): Promise<LangchainApprovalResult> {
  // Loop detection off: six searches in a row would trip it, and this example is about the cap.
  const ks = createKillSwitch({ runaway: false })
  const agent = await ks.agents.create({
    handle: 'researcher-hitl',
    spendingCap: 0.0303,
    approvals: { enabled: true, waitMs: 0 },
  })
  log(`provisioned ${agent.handle}: $${agent.spendingCap} cap, approvals on (waitMs: 0)`)
  ks.on('approval_requested', (event) =>
    log(`approval_requested ${event.id}: $${event.requested} past the cap (${event.reason})`),
  )

  let searches = 0
  const webSearch = tool(
    async ({ query }) => {
      searches++
      return `10 results for "${query}"`
    },
    { name: 'web_search', description: 'Paid web search', schema: z.object({ query: z.string() }) },
  )
  const killSwitch = killSwitchMiddleware({
    killSwitch: ks,
    credential: agent.credential,
    model: 'gpt-4o-mini',
    provider: 'openai',
    toolPrices: { web_search: 0.01 },
  })
  const researcher = createAgent({
    model: researchModel(),
    tools: [webSearch],
    middleware: [pauseForApproval, killSwitch],
    checkpointer: new MemorySaver(),
  })
  const thread = { configurable: { thread_id: 'research-1' }, recursionLimit: 100 }

  const first = await researcher.invoke(
    { messages: [new HumanMessage('Research agent budget overruns.')] },
    thread,
  )
  const pending = first.__interrupt__?.[0]?.value as LangchainApprovalResult['interrupted']
  log(`paused after ${searches} searches, waiting for ${pending?.approvalId}`)

  // The person: sees the pending request (ks.approvals.list, the CLI or the webhook's link).
  const [request] = await ks.approvals.list({ status: 'pending' })
  if (!request) throw new Error('expected a pending approval')
  const decided = await ks.approvals.approve(request.id, { amount: 0.05, ttlMs: 600_000 })
  log(`approved ${decided.id}: up to $${decided.grant?.amount} more`)

  // Same thread, resumed from its checkpoint.
  const final = await researcher.invoke(new Command({ resume: { approved: true } }), thread)
  const answer = String(final.messages.at(-1)?.content ?? '')
  const state = await ks.agents.get(agent.handle)
  const audited = (await ks.audit(agent.handle))
    .filter((entry) => entry.type === 'approval')
    .map((entry) => String(entry.data.event))
  log(`finished after ${searches} searches: "${answer}"`)
  log(`spent $${state.spent} of the $${state.spendingCap} cap plus the grant`)
  await ks.close()
  return {
    interrupted: pending,
    decided: { id: decided.id, status: decided.status },
    audited,
    searches,
    answer,
    spent: state.spent,
    spendingCap: state.spendingCap,
    held: state.held,
  }
}

if (import.meta.main) await runLangchainApprovals()
