// What the kill switch adds to an AI SDK call. The target rows ("vs a no-op ...") put each
// hook beside a no-op hook of the same kind: the middleware against a middleware that only
// passes through (wrapGenerate, and wrapStream piping the stream through an identity
// TransformStream), guardTools against a tool wrapper that only awaits the tool. The other
// rows are context: the bare model, without any middleware. Baseline and guarded take turns
// call by call (bench/side-by-side.ts). The ledger is the in-memory store, so this is the
// adapter's and the guard's own cost, not a network store's. Runaway detection is off:
// thousands of calls a second would (rightly) trip the call-rate detector.
// Run alone: npm run x -- node packages/vercel-ai/bench/overhead.ts (after a build)
import type { LanguageModelV4Middleware, LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { createKillSwitch, type KillSwitch } from '@killswitch/core'
import { guardTools, withKillSwitch } from '@killswitch/vercel-ai'
import { generateText, isStepCount, streamText, type ToolSet, tool, wrapLanguageModel } from 'ai'
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
/** The context row of the core alone (bench/report.ts explains it). */
export const CORE_ONLY_ROW =
  "generateText: the core's beforeModelCall + afterModelCall alone in a middleware, against a no-op middleware"
const ROUNDS = 9
const CALLS_PER_ROUND = 100
const TEXT = 'The quarterly report shows revenue up 12% on the back of the new enterprise tier.'
const usage = {
  inputTokens: { total: 120, noCache: 120, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 24, text: 24, reasoning: 0 },
}

// The mocks log every call: cleared after each measure so memory stays flat.
const mocks: MockLanguageModelV4[] = []

/** The mock model; with `toolFirst`, every other call asks for the search tool. */
export function mockModel(toolFirst = false): MockLanguageModelV4 {
  let calls = 0
  const model = new MockLanguageModelV4({
    provider: 'bench.chat',
    modelId: MODEL,
    doGenerate: async () => {
      const asksTool = toolFirst && calls++ % 2 === 0
      return {
        content: asksTool
          ? [{ type: 'tool-call', toolCallId: `c${calls}`, toolName: 'search', input: '{"q":"x"}' }]
          : [{ type: 'text', text: TEXT }],
        finishReason: asksTool
          ? { unified: 'tool-calls', raw: 'tool_calls' }
          : { unified: 'stop', raw: 'stop' },
        usage,
        warnings: [],
      }
    },
    doStream: async () => {
      // A realistic chunking: one delta per word.
      const words = TEXT.split(/(?<= )/)
      const parts: LanguageModelV4StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 't' },
        ...words.map((delta) => ({ type: 'text-delta' as const, id: 't', delta })),
        { type: 'text-end', id: 't' },
        { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage },
      ]
      return { stream: ReadableStream.from(parts) }
    },
  })
  mocks.push(model)
  return model
}

/** A middleware that only passes through (the stream through an identity TransformStream). */
export const noopMiddleware: LanguageModelV4Middleware = {
  specificationVersion: 'v4',
  wrapGenerate: ({ doGenerate }) => doGenerate(),
  wrapStream: async ({ doStream }) => {
    const started = await doStream()
    return { ...started, stream: started.stream.pipeThrough(new TransformStream()) }
  },
}

/**
 * The core alone, no adapter: a middleware that holds and settles through the guard's two
 * calls and does nothing else (no input sizing, no stop signal, no result mapping). Set
 * beside the no-op middleware, it shows how much of the adapter's overhead is the core's
 * guarded call itself inside the SDK, and how much the translation.
 */
function coreOnlyMiddleware(guard: ReturnType<KillSwitch['guard']>): LanguageModelV4Middleware {
  return {
    specificationVersion: 'v4',
    async wrapGenerate({ params, model }) {
      const ticket = await guard.beforeModelCall({ model: MODEL, input: TEXT })
      const result = await model.doGenerate(params)
      await guard.afterModelCall(ticket, { usage: { inputTokens: 120, outputTokens: 24 } })
      return result
    },
  }
}

/** Tools whose execute is wrapped by a function that only awaits it. */
function noopWrapped<TOOLS extends ToolSet>(tools: TOOLS): TOOLS {
  const wrapped: ToolSet = {}
  for (const [name, original] of Object.entries(tools)) {
    const execute = original.execute as (...args: unknown[]) => unknown
    wrapped[name] = { ...original, execute: async (...args: unknown[]) => await execute(...args) }
  }
  return wrapped as TOOLS
}

/** A kill switch and agent of its own per scenario, so one's ledger history cannot slow another. */
async function benchAgent(killSwitches: KillSwitch[], toolPrices?: Record<string, number>) {
  const killSwitch = createKillSwitch({
    prices: { [MODEL]: { inputPerMTok: 0.001, outputPerMTok: 0.001 } },
    runaway: false,
  })
  killSwitches.push(killSwitch)
  const { credential } = await killSwitch.agents.create({
    handle: 'bench-agent',
    spendingCap: 1_000_000,
  })
  return { killSwitch, credential, ...(toolPrices ? { toolPrices } : {}) }
}

export async function benchVercelAiOverhead(
  options: SideBySideOptions = {},
): Promise<SideBySideRow[]> {
  const killSwitches: KillSwitch[] = []
  const prompt = 'Summarise the report.'
  const search = tool({
    inputSchema: z.object({ q: z.string() }),
    execute: async ({ q }) => ({ results: [q] }),
  })
  const generate = (model: Parameters<typeof generateText>[0]['model'], tools?: ToolSet) =>
    generateText({ model, prompt, ...(tools ? { tools, stopWhen: isStepCount(2) } : {}) })
  const stream = async (model: Parameters<typeof streamText>[0]['model']) =>
    await streamText({ model, prompt }).text
  const noop = (model: MockLanguageModelV4) =>
    wrapLanguageModel({ model, middleware: noopMiddleware })
  const guard = async (model: MockLanguageModelV4) =>
    withKillSwitch(model, await benchAgent(killSwitches))

  const [noopGenerate, guardedGenerate] = [noop(mockModel()), await guard(mockModel())]
  const [noopStream, guardedStream] = [noop(mockModel()), await guard(mockModel())]
  const [bareModel, guardedModel] = [mockModel(), await guard(mockModel())]
  const coreAgent = await benchAgent(killSwitches)
  const coreOnly = wrapLanguageModel({
    model: mockModel(),
    middleware: coreOnlyMiddleware(coreAgent.killSwitch.guard(coreAgent.credential)),
  })
  const [toolModel, guardedToolModel] = [mockModel(true), mockModel(true)]
  const paid = await benchAgent(killSwitches, { search: 0.001 })
  const noopTools = noopWrapped({ search })
  const guardedTools = guardTools({ search }, paid)

  const pairs: SideBySidePair[] = [
    [
      'generateText: middleware vs a no-op middleware',
      () => generate(noopGenerate),
      () => generate(guardedGenerate),
    ],
    [
      'streamText (read to the end): middleware vs a no-op middleware',
      () => stream(noopStream),
      () => stream(guardedStream),
    ],
    [
      'generateText with a paid tool step: guardTools vs a no-op tool wrapper',
      () => generate(toolModel, noopTools),
      () => generate(guardedToolModel, guardedTools),
    ],
    [CORE_ONLY_ROW, () => generate(noopGenerate), () => generate(coreOnly)],
    ['generateText (bare model)', () => generate(bareModel), () => generate(guardedModel)],
    [
      'streamText, read to the end (bare model)',
      () => stream(bareModel),
      () => stream(guardedModel),
    ],
  ]
  const clear = () => {
    for (const model of mocks) {
      model.doGenerateCalls.length = 0
      model.doStreamCalls.length = 0
    }
  }
  const rows = await sideBySide(pairs, {
    rounds: ROUNDS,
    calls: CALLS_PER_ROUND,
    afterRound: clear,
    ...options,
  })
  for (const killSwitch of killSwitches) await killSwitch.close()
  return rows
}

if (import.meta.main) console.table(await benchVercelAiOverhead())
