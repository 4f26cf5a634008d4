// billing-agent-4, on LangChain through the callback handler: a plain chain (prompt | model)
// that checks invoices, the way code without an agent loop is guarded. Healthy work on its
// own credential and cap.
import { findKillSwitchError } from '@killswitch/core'
import { KillSwitchCallbackHandler } from '@killswitch/langchain'
import { AIMessage, type BaseMessage } from '@langchain/core/messages'
import { ChatPromptTemplate } from '@langchain/core/prompts'
import { fakeModel } from '@langchain/core/testing'
import {
  type AgentOutcome,
  type HealthyAgentOptions,
  inputTokensFor,
  nextTask,
} from '../scripted.ts'

const INVOICES = ['INV-1042', 'INV-1043', 'INV-1044']
const PAUSE_MS = 400

/**
 * Runs the billing handler: one chain call per invoice, guarded by the callback handler.
 *
 * @example
 * const outcome = await runBilling({ ks, credential, handle, timeline })
 */
export async function runBilling(options: HealthyAgentOptions): Promise<AgentOutcome> {
  const { ks, credential, handle, timeline } = options
  const model = fakeModel()
  for (const invoice of INVOICES) {
    model.respond((messages: BaseMessage[]) => {
      const input = inputTokensFor(messages.map((message) => message.content))
      return new AIMessage({
        content: `${invoice}: amounts match the contract. Approved.`,
        usage_metadata: { input_tokens: input, output_tokens: 60, total_tokens: input + 60 },
      })
    })
  }
  const chain = ChatPromptTemplate.fromTemplate(
    'Check invoice {invoice} against the contract and approve or flag it.',
  ).pipe(model)
  // The fake names no model: price the calls as the model it stands in for.
  const handler = new KillSwitchCallbackHandler({
    killSwitch: ks,
    credential,
    model: 'gpt-4o-mini',
    provider: 'openai',
  })

  timeline.line(handle, `checking ${INVOICES.length} invoices (LangChain chain + callback handler)`)
  let done = 0
  try {
    for (const [index, invoice] of INVOICES.entries()) {
      await nextTask(index, INVOICES.length, PAUSE_MS, options.afterIncident)
      await chain.invoke({ invoice }, { callbacks: [handler], signal: handler.signal })
      done++
      timeline.line(handle, `approved ${invoice} (${done}/${INVOICES.length})`)
    }
  } catch (error) {
    const stopped = findKillSwitchError(error)
    if (!stopped) throw error
    timeline.line(handle, `stopped: ${stopped.message}`, 'stop')
    return {
      handle,
      framework: 'LangChain',
      planned: INVOICES.length,
      done,
      stoppedBy: stopped.code,
    }
  }
  return { handle, framework: 'LangChain', planned: INVOICES.length, done }
}
