// writer-agent-2, on LangChain: a createAgent that drafts a report section by section, each
// section a notes lookup (a free tool) and then the draft. Healthy work, on its own
// credential and cap: the researcher's revocation does not touch it.
import { findKillSwitchError } from '@killswitch/core'
import { killSwitchMiddleware } from '@killswitch/langchain'
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages'
import { fakeModel } from '@langchain/core/testing'
import { createAgent, tool } from 'langchain'
import { z } from 'zod'
import {
  type AgentOutcome,
  type HealthyAgentOptions,
  inputTokensFor,
  nextTask,
} from '../scripted.ts'

const SECTIONS = ['the incident', 'what it cost', 'what stopped it', 'what we changed']
const PAUSE_MS = 300

/** Usage as a provider reports it for these messages. */
function usage(messages: BaseMessage[], outputTokens: number) {
  const input = inputTokensFor(messages.map((message) => message.content))
  return { input_tokens: input, output_tokens: outputTokens, total_tokens: input + outputTokens }
}

/**
 * Runs the writer: one createAgent run per section (two model calls and a tool call each).
 *
 * @example
 * const outcome = await runWriter({ ks, credential, handle, timeline })
 */
export async function runWriter(options: HealthyAgentOptions): Promise<AgentOutcome> {
  const { ks, credential, handle, timeline } = options
  const model = fakeModel()
  // No client retries, or the kill switch refuses the model (one hold would pay for every
  // attempt): fakeModel() takes no fields, so its caller keeps LangChain's default of 6.
  Object.assign(model.caller, { maxRetries: 0 })
  for (const [index, section] of SECTIONS.entries()) {
    model.respond(
      (messages) =>
        new AIMessage({
          content: '',
          tool_calls: [{ name: 'read_notes', args: { section }, id: `notes_${index}` }],
          usage_metadata: usage(messages, 18),
        }),
    )
    model.respond(
      (messages) =>
        new AIMessage({
          content: `## ${section}\n\nDraft of the section about ${section}.`,
          usage_metadata: usage(messages, 420),
        }),
    )
  }
  const readNotes = tool(async ({ section }) => `Notes on ${section}: three bullet points.`, {
    name: 'read_notes',
    description: 'Reads the team notes for a section (free)',
    schema: z.object({ section: z.string() }),
  })
  // The fake names no model: price the calls as the model it stands in for.
  const killSwitch = killSwitchMiddleware({
    killSwitch: ks,
    credential,
    model: 'gpt-4o',
    provider: 'openai',
  })
  const writer = createAgent({
    model,
    tools: [readNotes],
    middleware: [killSwitch],
    signal: killSwitch.signal,
  })

  timeline.line(handle, `writing a ${SECTIONS.length}-section report (LangChain createAgent)`)
  let done = 0
  try {
    for (const [index, section] of SECTIONS.entries()) {
      await nextTask(index, SECTIONS.length, PAUSE_MS, options.afterIncident)
      await writer.invoke({ messages: [new HumanMessage(`Write the section "${section}".`)] })
      done++
      timeline.line(handle, `drafted "${section}" (${done}/${SECTIONS.length})`)
    }
  } catch (error) {
    const stopped = findKillSwitchError(error)
    if (!stopped) throw error
    timeline.line(handle, `stopped: ${stopped.message}`, 'stop')
    return {
      handle,
      framework: 'LangChain',
      planned: SECTIONS.length,
      done,
      stoppedBy: stopped.code,
    }
  }
  return { handle, framework: 'LangChain', planned: SECTIONS.length, done }
}
