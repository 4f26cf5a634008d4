// researcher-agent-7, on the AI SDK: the agent that goes wrong. Its scripted model asks for
// the very same paid web search on every step and never concludes, the bug behind the
// incident this project exists for. Meanwhile it streams a long summary: the call that is
// in flight when the kill switch revokes it.
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { findKillSwitchError, type KillSwitch } from '@killswitch/core'
import { guardTools, withKillSwitch } from '@killswitch/vercel-ai'
import { generateText, simulateReadableStream, stepCountIs, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'
import { type AgentOutcome, inputTokensFor, pause } from '../scripted.ts'
import type { SearchApi } from '../search-api.ts'
import type { Timeline } from '../timeline.ts'

/** Dollars per web_search call: a premium search API. */
export const SEARCH_PRICE_USD = 0.2
const QUERY = 'agent budget overruns 2026'
const MODEL_LATENCY_MS = 200
// Long enough to still be streaming when the loop is caught (about a second in); it is
// never streamed to the end.
const SUMMARY_CHUNKS = 200
const SUMMARY_CHUNK_DELAY_MS = 40

/** What the researcher did, beyond the common outcome. */
export interface ResearcherOutcome extends AgentOutcome {
  modelCalls: number
  searches: number
  /** How the concurrent summary stream ended: the error class that cut it, or 'finished'. */
  summaryEndedWith: string
  summaryChunks: number
}

/** A model stuck in a loop: the same search, every step, as a tool call. */
function loopingModel() {
  let step = 0
  return new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o-mini',
    doGenerate: async ({ prompt }) => {
      await pause(MODEL_LATENCY_MS)
      step++
      return {
        content: [
          // The wording changes, the tool call does not: the loop is in the tool call.
          { type: 'text', text: `Attempt ${step}: the results look incomplete, searching again.` },
          {
            type: 'tool-call',
            toolCallId: `call_${Math.random().toString(36).slice(2, 10)}`,
            toolName: 'web_search',
            input: JSON.stringify({ query: QUERY }),
          },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: {
          inputTokens: {
            total: inputTokensFor(prompt),
            noCache: inputTokensFor(prompt),
            cacheRead: 0,
            cacheWrite: 0,
          },
          outputTokens: { total: 24, text: 24, reasoning: 0 },
        },
        warnings: [],
      }
    },
  })
}

/** A model that streams a long summary, slowly, as a real one does. */
function summaryModel() {
  return new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o-mini',
    doStream: async ({ prompt }) => {
      const words = Array.from({ length: SUMMARY_CHUNKS }, (_, i) => `finding-${i} `)
      const chunks: LanguageModelV4StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 'summary' },
        ...words.map(
          (delta): LanguageModelV4StreamPart => ({ type: 'text-delta', id: 'summary', delta }),
        ),
        { type: 'text-end', id: 'summary' },
        {
          type: 'finish',
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: {
            inputTokens: {
              total: inputTokensFor(prompt),
              noCache: inputTokensFor(prompt),
              cacheRead: 0,
              cacheWrite: 0,
            },
            outputTokens: { total: SUMMARY_CHUNKS * 3, text: SUMMARY_CHUNKS * 3, reasoning: 0 },
          },
        },
      ]
      return { stream: simulateReadableStream({ chunks, chunkDelayInMs: SUMMARY_CHUNK_DELAY_MS }) }
    },
  })
}

/**
 * Runs the researcher: the search loop (generateText, up to 50 steps) and, at the same time,
 * the summary stream. Both end when the kill switch stops the agent.
 *
 * @example
 * const outcome = await runResearcher({ ks, credential, handle, searchApi, timeline })
 */
export async function runResearcher(options: {
  ks: KillSwitch
  credential: string
  handle: string
  searchApi: SearchApi
  timeline: Timeline
}): Promise<ResearcherOutcome> {
  const { ks, credential, handle, searchApi, timeline } = options
  const guarded = { killSwitch: ks, credential }
  const loopModel = loopingModel()
  let searches = 0

  const webSearch = tool({
    description: `Searches the web (a paid API, $${SEARCH_PRICE_USD} a query)`,
    inputSchema: z.object({ query: z.string() }),
    execute: async ({ query }) => {
      // The search API checks the same credential at its door (killSwitchServerMiddleware).
      const response = await searchApi.search(credential, query)
      if (response.status !== 200) throw new Error(`search API answered ${response.status}`)
      searches++
      return response.body
    },
  })

  // The summary: a second activity of the same agent, on the same credential.
  let summaryChunks = 0
  const summarising = (async () => {
    const summary = streamText({
      model: withKillSwitch(summaryModel(), guarded),
      maxOutputTokens: 800,
      prompt: `Summarise what is known so far about ${QUERY}.`,
      onError: () => {},
    })
    try {
      for await (const _ of summary.textStream) summaryChunks++
      await summary.text
      return 'finished'
    } catch (error) {
      const stopped = findKillSwitchError(error)
      timeline.line(
        handle,
        `in-flight summary stream CUT after ${summaryChunks} chunks: ${stopped?.name ?? String(error)}`,
        'stop',
      )
      return stopped?.name ?? 'unexpected error'
    }
  })()
  timeline.line(handle, 'streaming a long summary (in flight)')

  timeline.line(handle, `researching "${QUERY}" (generateText, up to 50 steps)`)
  let stoppedBy: string | undefined
  try {
    await generateText({
      model: withKillSwitch(loopModel, guarded),
      // The paid tool's price is held before each search and charged when it succeeds.
      tools: guardTools(
        { web_search: webSearch },
        { ...guarded, toolPrices: { web_search: SEARCH_PRICE_USD } },
      ),
      stopWhen: stepCountIs(50),
      maxOutputTokens: 256,
      prompt: `Find out everything about ${QUERY}.`,
    })
  } catch (error) {
    const stopped = findKillSwitchError(error)
    if (!stopped) throw error
    stoppedBy = stopped.code
    timeline.line(handle, `search loop stopped: ${stopped.name} (${stopped.status})`, 'stop')
  }
  const summaryEndedWith = await summarising

  return {
    handle,
    framework: 'AI SDK',
    planned: 1,
    done: stoppedBy === undefined ? 1 : 0,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    modelCalls: loopModel.doGenerateCalls.length,
    searches,
    summaryEndedWith,
    summaryChunks,
  }
}
