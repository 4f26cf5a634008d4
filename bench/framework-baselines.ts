// What the frameworks' own hooks cost with no kill switch in them: the bare mock model
// against the same model behind a middleware that does nothing, of the same shape as the
// kill switch's (AI SDK: wrapGenerate and wrapStream, the stream piped through an identity
// TransformStream; LangChain createAgent: beforeModel, wrapModelCall and wrapToolCall). It
// tells apart, in the adapter overheads, what any middleware costs from what the kill switch
// adds. Bare and no-op take turns call by call (bench/side-by-side.ts).
// Run alone: npm run x -- node bench/framework-baselines.ts
import { HumanMessage } from '@langchain/core/messages'
import { FakeListChatModel } from '@langchain/core/utils/testing'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import { createAgent, createMiddleware } from 'langchain'
import { mockModel, noopMiddleware } from '../packages/vercel-ai/bench/overhead.ts'
import { type SideBySideOptions, type SideBySideRow, sideBySide } from './side-by-side.ts'

export interface FrameworkBaselineRow {
  adapter: 'vercel-ai' | 'langchain'
  /** The adapter overhead scenario (row name) this baseline explains. */
  scenario: string
  name: string
  baselineMedianUs: number
  /** With the no-op middleware. */
  guardedMedianUs: number
  ratio: number
}

// The AI SDK's model and no-op middleware are the adapter bench's own, so both measure the same.

/**
 * No-op middleware against the bare model, AI SDK and LangChain createAgent.
 *
 * @example
 * for (const row of await benchFrameworkBaselines()) console.log(row.name, row.ratio)
 */
export async function benchFrameworkBaselines(
  options: SideBySideOptions = {},
): Promise<FrameworkBaselineRow[]> {
  const bare = mockModel()
  const inner = mockModel()
  const wrapped = wrapLanguageModel({ model: inner, middleware: noopMiddleware })
  const prompt = 'Summarise the report.'
  const clear = () => {
    for (const model of [bare, inner]) {
      model.doGenerateCalls.length = 0
      model.doStreamCalls.length = 0
    }
  }

  const noop = createMiddleware({
    name: 'NoopMiddleware',
    beforeModel: async () => undefined,
    wrapModelCall: async (request, handler) => handler(request),
    wrapToolCall: async (request, handler) => handler(request),
  })
  // The same without beforeModel: that hook is a graph node of its own in createAgent.
  const noopWrapOnly = createMiddleware({
    name: 'NoopWrapMiddleware',
    wrapModelCall: async (request, handler) => handler(request),
    wrapToolCall: async (request, handler) => handler(request),
  })
  const fake = () => new FakeListChatModel({ responses: ['ok, done'] })
  const bareAgent = createAgent({ model: fake(), tools: [] })
  const noopAgent = createAgent({ model: fake(), tools: [], middleware: [noop] })
  const wrapOnlyAgent = createAgent({ model: fake(), tools: [], middleware: [noopWrapOnly] })
  const input = { messages: [new HumanMessage(prompt)] }

  const pairs: Array<{
    adapter: FrameworkBaselineRow['adapter']
    scenario: string
    name: string
    bare: () => Promise<unknown>
    noop: () => Promise<unknown>
  }> = [
    {
      adapter: 'vercel-ai',
      scenario: 'generateText',
      name: 'generateText: no-op middleware',
      bare: () => generateText({ model: bare, prompt }),
      noop: () => generateText({ model: wrapped, prompt }),
    },
    {
      adapter: 'vercel-ai',
      scenario: 'streamText (read to the end)',
      name: 'streamText: no-op middleware (identity TransformStream)',
      bare: async () => await streamText({ model: bare, prompt }).text,
      noop: async () => await streamText({ model: wrapped, prompt }).text,
    },
    {
      adapter: 'langchain',
      scenario: 'createAgent one turn: middleware',
      name: 'createAgent one turn: no-op middleware (beforeModel, wrapModelCall, wrapToolCall)',
      bare: () => bareAgent.invoke(input),
      noop: () => noopAgent.invoke(input),
    },
    {
      adapter: 'langchain',
      scenario: 'createAgent one turn: middleware',
      name: 'createAgent one turn: no-op middleware without beforeModel (wrapModelCall, wrapToolCall)',
      bare: () => bareAgent.invoke(input),
      noop: () => wrapOnlyAgent.invoke(input),
    },
  ]
  const rows = await sideBySide(
    pairs.map(({ name, bare, noop }) => [name, bare, noop]),
    { afterRound: clear, ...options },
  )
  return pairs.map(({ adapter, scenario }, index) => ({
    adapter,
    scenario,
    ...(rows[index] as SideBySideRow),
  }))
}

if (import.meta.main) console.table(await benchFrameworkBaselines())
