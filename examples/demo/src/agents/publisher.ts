// publisher-agent-1, on Mastra: an Agent whose model is wrapped by killSwitchModel. For each
// post it calls the publish tool, then confirms. Healthy work on its own credential and cap.
import { findKillSwitchError } from '@killswitch/core'
import { killSwitchModel } from '@killswitch/mastra'
import { Agent } from '@mastra/core/agent'
import { Mastra } from '@mastra/core/mastra'
import { createTool } from '@mastra/core/tools'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'
import {
  type AgentOutcome,
  type HealthyAgentOptions,
  inputTokensFor,
  nextTask,
} from '../scripted.ts'

const POSTS = ['weekly-digest', 'release-notes-0-1', 'postmortem-draft']
const PAUSE_MS = 350

/** Publishes when asked; once the tool has answered, confirms in one sentence. */
function publishingModel() {
  let call = 0
  return new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o-mini',
    doGenerate: async ({ prompt }) => {
      call++
      const last = prompt.at(-1)
      const tokens = inputTokensFor(prompt)
      const usage = {
        inputTokens: { total: tokens, noCache: tokens, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 30, text: 30, reasoning: 0 },
      }
      const request = JSON.stringify(last?.content ?? '')
      const slug = POSTS.find((post) => request.includes(post)) ?? 'unknown'
      if (last?.role === 'tool') {
        return {
          content: [{ type: 'text', text: `Published ${slug}.` }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage,
          warnings: [],
        }
      }
      return {
        content: [
          {
            type: 'tool-call',
            toolCallId: `publish_${call}`,
            toolName: 'publishPost',
            input: JSON.stringify({ slug }),
          },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage,
        warnings: [],
      }
    },
  })
}

/**
 * Runs the publisher: one Mastra `generate` per post (a tool call, then a confirmation).
 *
 * @example
 * const outcome = await runPublisher({ ks, credential, handle, timeline })
 */
export async function runPublisher(options: HealthyAgentOptions): Promise<AgentOutcome> {
  const { ks, credential, handle, timeline } = options
  const published: string[] = []
  const publishPost = createTool({
    id: 'publishPost',
    description: 'Publishes a post on the blog',
    inputSchema: z.object({ slug: z.string() }),
    execute: async ({ slug }) => {
      published.push(slug)
      return { url: `https://blog.example.com/${slug}` }
    },
  })
  const publisher = new Agent({
    id: 'publisher',
    name: 'publisher',
    instructions: 'Publish the posts you are given.',
    model: killSwitchModel(publishingModel(), { killSwitch: ks, credential }),
    tools: { publishPost },
  })
  // Registered with a Mastra instance for its logger, which is off: the timeline is the log.
  new Mastra({ agents: { publisher }, logger: false })

  timeline.line(handle, `publishing ${POSTS.length} posts (Mastra Agent)`)
  try {
    for (const [index, post] of POSTS.entries()) {
      await nextTask(index, POSTS.length, PAUSE_MS, options.afterIncident)
      await publisher.generate(`Publish the post ${post}.`, { maxSteps: 3 })
      if (published.at(-1) !== post) throw new Error(`the publisher did not publish ${post}`)
      timeline.line(handle, `published ${post} (${published.length}/${POSTS.length})`)
    }
  } catch (error) {
    const stopped = findKillSwitchError(error)
    if (!stopped) throw error
    timeline.line(handle, `stopped: ${stopped.message}`, 'stop')
    return {
      handle,
      framework: 'Mastra',
      planned: POSTS.length,
      done: published.length,
      stoppedBy: stopped.code,
    }
  }
  return { handle, framework: 'Mastra', planned: POSTS.length, done: published.length }
}
