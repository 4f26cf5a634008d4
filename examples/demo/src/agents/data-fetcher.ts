// data-fetcher-agent-3, on the AI SDK with streamText: pulls datasets through a paid data
// tool, one stream per dataset. Healthy work on its own credential and cap: it keeps
// streaming while the researcher is revoked.
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { findKillSwitchError } from '@killswitch/core'
import { guardTools, withKillSwitch } from '@killswitch/vercel-ai'
import { stepCountIs, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'
import {
  type AgentOutcome,
  type HealthyAgentOptions,
  inputTokensFor,
  nextTask,
} from '../scripted.ts'

/** Dollars per fetch_dataset call. */
export const FETCH_PRICE_USD = 0.02
const DATASETS = ['usage-2026-10', 'usage-2026-11', 'invoices-q3', 'churn-q3']
const PAUSE_MS = 250

/** Streams a fetch request for the dataset asked for, then a one-line summary of it. */
function fetchingModel() {
  let call = 0
  return new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o-mini',
    doStream: async ({ prompt }) => {
      call++
      const last = prompt.at(-1)
      const tokens = inputTokensFor(prompt)
      const finish = (unified: 'stop' | 'tool-calls'): LanguageModelV4StreamPart => ({
        type: 'finish',
        finishReason: { unified, raw: unified === 'stop' ? 'stop' : 'tool_calls' },
        usage: {
          inputTokens: { total: tokens, noCache: tokens, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: 40, text: 40, reasoning: 0 },
        },
      })
      const request = JSON.stringify(prompt[0]?.content ?? '')
      const dataset = DATASETS.find((name) => request.includes(name)) ?? 'unknown'
      const parts: LanguageModelV4StreamPart[] =
        last?.role === 'tool'
          ? [
              { type: 'stream-start', warnings: [] },
              { type: 'text-start', id: 't' },
              { type: 'text-delta', id: 't', delta: `Loaded ${dataset}: 12,480 rows. ` },
              { type: 'text-end', id: 't' },
              finish('stop'),
            ]
          : [
              { type: 'stream-start', warnings: [] },
              {
                type: 'tool-call',
                toolCallId: `fetch_${call}`,
                toolName: 'fetch_dataset',
                input: JSON.stringify({ dataset }),
              },
              finish('tool-calls'),
            ]
      return { stream: ReadableStream.from(parts) }
    },
  })
}

/**
 * Runs the data fetcher: one streamText per dataset (a paid fetch, then a summary).
 *
 * @example
 * const outcome = await runDataFetcher({ ks, credential, handle, timeline })
 */
export async function runDataFetcher(options: HealthyAgentOptions): Promise<AgentOutcome> {
  const { ks, credential, handle, timeline } = options
  const guarded = { killSwitch: ks, credential }
  const model = withKillSwitch(fetchingModel(), guarded)
  const fetched: string[] = []
  const tools = guardTools(
    {
      fetch_dataset: tool({
        description: `Fetches a dataset from the warehouse (paid, $${FETCH_PRICE_USD} a call)`,
        inputSchema: z.object({ dataset: z.string() }),
        execute: async ({ dataset }) => {
          fetched.push(dataset)
          return { dataset, rows: 12_480 }
        },
      }),
    },
    { ...guarded, toolPrices: { fetch_dataset: FETCH_PRICE_USD } },
  )

  timeline.line(handle, `fetching ${DATASETS.length} datasets (AI SDK streamText)`)
  let done = 0
  try {
    for (const [index, dataset] of DATASETS.entries()) {
      await nextTask(index, DATASETS.length, PAUSE_MS, options.afterIncident)
      const result = streamText({
        model,
        tools,
        stopWhen: stepCountIs(3),
        maxOutputTokens: 200,
        prompt: `Fetch the dataset ${dataset} and summarise it.`,
        onError: () => {},
      })
      await result.text
      if (fetched.at(-1) !== dataset) throw new Error(`the data fetcher did not fetch ${dataset}`)
      done++
      timeline.line(handle, `fetched ${dataset} (${done}/${DATASETS.length})`)
    }
  } catch (error) {
    const stopped = findKillSwitchError(error)
    if (!stopped) throw error
    timeline.line(handle, `stopped: ${stopped.message}`, 'stop')
    return { handle, framework: 'AI SDK', planned: DATASETS.length, done, stoppedBy: stopped.code }
  }
  return { handle, framework: 'AI SDK', planned: DATASETS.length, done }
}
