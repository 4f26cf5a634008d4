// What the kill switch adds to a Mastra agent run. The target rows ("vs a no-op ...") put
// each hook beside a no-op hook of the same kind, in the same run: the processor beside a
// processor with the same four hooks that only pass through, killSwitchModel beside the same
// model wrapped with a pass-through middleware, the tool hooks beside hooks that do nothing.
// The other rows are context: the bare model, without any hook. Baseline and guarded take
// turns call by call (bench/side-by-side.ts). The ledger is the in-memory store, so this is
// the adapter's and the guard's own cost, not a network store's. Runaway detection is off
// here: thousands of calls a second would (rightly) trip the call-rate detector.
// Run alone: npm run x -- node packages/mastra/bench/overhead.ts (after a build)
import type { LanguageModelV4Middleware, LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { createKillSwitch } from '@killswitch/core'
import { killSwitchModel, killSwitchProcessor, killSwitchToolHooks } from '@killswitch/mastra'
import { Agent, type AgentConfig } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import { Mastra } from '@mastra/core/mastra'
import type { Processor } from '@mastra/core/processors'
import { createTool } from '@mastra/core/tools'
import { wrapLanguageModel } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'
import {
  type SideBySideOptions,
  type SideBySidePair,
  type SideBySideRow,
  sideBySide,
} from '../../../bench/side-by-side.ts'

export type { SideBySideRow as OverheadRow } from '../../../bench/side-by-side.ts'

const MODEL = 'bench-model'
const ROUNDS = 9
const CALLS_PER_ROUND = 30
const usage = {
  inputTokens: { total: 20, noCache: 20, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 5, text: 5, reasoning: 0 },
}
const finishReason = { unified: 'stop' as const, raw: 'stop' }

/** A one-step answer, generate and stream; with `tool`, a `search` call first. */
function mockModel(tool = false) {
  // The first step asks for the tool; once its result is in the prompt, the model answers.
  const asks = (prompt: ReadonlyArray<{ role: string }>) =>
    tool && !prompt.some((message) => message.role === 'tool')
  return new MockLanguageModelV4({
    provider: 'mock',
    modelId: MODEL,
    doGenerate: async ({ prompt }) =>
      asks(prompt)
        ? {
            content: [
              { type: 'tool-call', toolCallId: 'call-1', toolName: 'search', input: '{"q":"x"}' },
            ],
            finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
            usage,
            warnings: [],
          }
        : { content: [{ type: 'text', text: 'ok, done' }], finishReason, usage, warnings: [] },
    doStream: async () => ({
      stream: new ReadableStream<LanguageModelV4StreamPart>({
        start(controller) {
          controller.enqueue({ type: 'stream-start', warnings: [] })
          controller.enqueue({ type: 'text-start', id: 't' })
          controller.enqueue({ type: 'text-delta', id: 't', delta: 'ok, done' })
          controller.enqueue({ type: 'text-end', id: 't' })
          controller.enqueue({ type: 'finish', finishReason, usage })
          controller.close()
        },
      }),
    }),
  })
}

/** @mastra/core 1.71's bundled provider types predate ai 7's (see killSwitchModel). */
const asMastraModel = (model: unknown) => model as MastraModelConfig

/**
 * A model wrapper that only passes through, the no-op of killSwitchModel's kind: the stream
 * takes one hop through an identity TransformStream, as the guarded stream takes one.
 */
const noopMiddleware: LanguageModelV4Middleware = {
  specificationVersion: 'v4',
  wrapGenerate: ({ doGenerate }) => doGenerate(),
  wrapStream: async ({ doStream }) => oneHop(await doStream()),
}
const oneHop = <T extends { stream: ReadableStream }>(result: T): T => ({
  ...result,
  stream: result.stream.pipeThrough(new TransformStream()),
})

/** A processor with the kill switch processor's four hooks, each passing through. */
const noopProcessor = {
  id: 'noop',
  processInputStep: () => undefined,
  processOutputStream: async ({ part }) => part,
  processOutputStep: async ({ messageList }) => messageList,
  processOutputResult: async ({ messageList }) => messageList,
} satisfies Processor

const search = createTool({
  id: 'search',
  description: 'Searches.',
  inputSchema: z.object({ q: z.string() }),
  execute: async () => ({ hits: 1 }),
})

export async function benchMastraOverhead(
  options: SideBySideOptions = {},
): Promise<SideBySideRow[]> {
  const ks = createKillSwitch({
    prices: { [MODEL]: { inputPerMTok: 0.001, outputPerMTok: 0.001 } },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'bench-agent', spendingCap: 1_000_000 })
  const guard = { killSwitch: ks, credential }
  const agent = (id: string, options: Omit<AgentConfig, 'id' | 'name' | 'instructions'>) =>
    new Agent({ id, name: id, instructions: 'Answer briefly.', ...options })

  const processor = killSwitchProcessor(guard)
  const processors = (which: typeof processor | typeof noopProcessor) => ({
    model: asMastraModel(mockModel()),
    inputProcessors: [which],
    outputProcessors: [which],
  })
  const withTool = (hooks: AgentConfig['hooks']) => ({
    model: asMastraModel(mockModel(true)),
    tools: { search },
    hooks,
  })
  const agents = {
    bare: agent('bare', { model: asMastraModel(mockModel()) }),
    wrapped: agent('wrapped', { model: killSwitchModel(mockModel(), guard) }),
    noopWrapped: agent('noopWrapped', {
      model: asMastraModel(wrapLanguageModel({ model: mockModel(), middleware: noopMiddleware })),
    }),
    processed: agent('processed', processors(processor)),
    noopProcessed: agent('noopProcessed', processors(noopProcessor)),
    hooked: agent('hooked', withTool(killSwitchToolHooks(guard))),
    noopHooked: agent(
      'noopHooked',
      withTool({ beforeToolCall: () => {}, afterToolCall: () => {} }),
    ),
  }
  // Silences Mastra's logger, as an application would configure it.
  new Mastra({ agents, logger: false })

  type BenchAgent = ReturnType<typeof agent>
  const generate = (which: BenchAgent) => () => which.generate('Summarise the report.')
  const stream = (which: BenchAgent) => async () => {
    const output = await which.stream('Summarise the report.')
    await output.consumeStream()
  }
  const { bare, wrapped, noopWrapped, processed, noopProcessed, hooked, noopHooked } = agents
  const pairs: SideBySidePair[] = [
    [
      'agent.generate: killSwitchProcessor vs a no-op processor',
      generate(noopProcessed),
      generate(processed),
    ],
    [
      'agent.stream: killSwitchProcessor vs a no-op processor',
      stream(noopProcessed),
      stream(processed),
    ],
    [
      'agent.generate: killSwitchModel vs a no-op model wrapper',
      generate(noopWrapped),
      generate(wrapped),
    ],
    [
      'agent.stream: killSwitchModel vs a no-op model wrapper',
      stream(noopWrapped),
      stream(wrapped),
    ],
    [
      'agent.generate with a tool step: killSwitchToolHooks vs a no-op tool hook',
      generate(noopHooked),
      generate(hooked),
    ],
    ['agent.generate: killSwitchModel', generate(bare), generate(wrapped)],
    ['agent.stream: killSwitchModel', stream(bare), stream(wrapped)],
    ['agent.generate: killSwitchProcessor', generate(bare), generate(processed)],
    ['agent.stream: killSwitchProcessor', stream(bare), stream(processed)],
  ]
  const rows = await sideBySide(pairs, { rounds: ROUNDS, calls: CALLS_PER_ROUND, ...options })
  await ks.close()
  return rows
}

if (import.meta.main) console.table(await benchMastraOverhead())
