// Scripted Mastra agents for the tests and the benchmark: a real @mastra/core Agent on the AI
// SDK's own MockLanguageModelV4, whose every step asks for a tool (a looping agent).
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { createKillSwitch, type KillSwitch, type RunawayConfig } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import { Mastra } from '@mastra/core/mastra'
import { createTool } from '@mastra/core/tools'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'
import { killSwitchProcessor } from '../src/kill-switch-processor.js'

/** A model id only the tests' price list knows: prices are exact, not the bundled data's. */
export const MODEL_ID = 'mock-looper'
/** $10 per million input tokens, $30 per million output tokens. */
export const PRICES = { [MODEL_ID]: { inputPerMTok: 10, outputPerMTok: 30 } }
export const STEP_USAGE = {
  inputTokens: { total: 200, noCache: 200, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 40, text: 40, reasoning: 0 },
}
/** What one step costs at STEP_USAGE: 200 * $10/M + 40 * $30/M. */
export const STEP_COST_USD = 0.0032
/**
 * The most one piece of the mock model's output costs, in micro-dollars (under 64 counted
 * tokens): the mock ignores the limit it is sent, so a step is stopped at the first piece past
 * its hold, and that piece, sent, is charged too. A stopped run may pass its cap by this much.
 */
export const ONE_PIECE_MICROS = 64 * PRICES[MODEL_ID].outputPerMTok

export interface LoopingModelOptions {
  /** The tool's arguments at step i (default: a new query each step, so no loop is detected). */
  args?: (step: number) => Record<string, unknown>
  /** Text streamed before the tool call at step i, in chunks (default: two, new each step). */
  chunks?: (step: number) => string[]
  /**
   * Awaited in the middle of the call at step `step` (e.g. to revoke the agent mid-call):
   * in doStream between the first and second text chunks, in doGenerate before it returns.
   */
  midCall?: (step: number) => Promise<void> | void
  /** Ends with text and no tool call from this step on (default: never). */
  answerAt?: number
  /** The tool it asks for (default: `search`). */
  tool?: string
}

/** A model that asks for a tool (`search`) at every step, in doGenerate and doStream alike. */
export function loopingModel(options: LoopingModelOptions = {}): MockLanguageModelV4 {
  const {
    args = (step) => ({ query: `query ${step}` }),
    chunks = (step) => ['Searching ', `again (${step}).`],
  } = options
  let step = 0
  const finishReason = (tools: boolean) =>
    tools
      ? { unified: 'tool-calls' as const, raw: 'tool_calls' }
      : { unified: 'stop' as const, raw: 'stop' }
  const answers = (at: number) => options.answerAt !== undefined && at >= options.answerAt

  return new MockLanguageModelV4({
    provider: 'mock',
    modelId: MODEL_ID,
    doGenerate: async () => {
      const at = step++
      const tools = !answers(at)
      await options.midCall?.(at)
      return {
        content: [
          { type: 'text', text: chunks(at).join('') },
          ...(tools
            ? [
                {
                  type: 'tool-call' as const,
                  toolCallId: `call-${at}`,
                  toolName: options.tool ?? 'search',
                  input: JSON.stringify(args(at)),
                },
              ]
            : []),
        ],
        finishReason: finishReason(tools),
        usage: STEP_USAGE,
        warnings: [],
      }
    },
    doStream: async () => {
      const at = step++
      const tools = !answers(at)
      const parts: LanguageModelV4StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 't' },
        ...chunks(at).map(
          (delta): LanguageModelV4StreamPart => ({ type: 'text-delta', id: 't', delta }),
        ),
        { type: 'text-end', id: 't' },
        ...(tools
          ? [
              {
                type: 'tool-call' as const,
                toolCallId: `call-${at}`,
                toolName: options.tool ?? 'search',
                input: JSON.stringify(args(at)),
              },
            ]
          : []),
        { type: 'finish', finishReason: finishReason(tools), usage: STEP_USAGE },
      ]
      let index = 0
      let delta = 0
      // Pulled one part at a time, so a test can act between two chunks of one stream.
      const stream = new ReadableStream<LanguageModelV4StreamPart>({
        async pull(controller) {
          const part = parts[index++]
          if (part === undefined) return controller.close()
          if (part.type === 'text-delta' && delta++ === 1) await options.midCall?.(at)
          controller.enqueue(part)
        },
      })
      return { stream }
    },
  })
}

/**
 * The mock as Mastra's `model` option types it: @mastra/core 1.71 bundles provider V4 types
 * older than the installed @ai-sdk/provider (no `interrupted` finish reason), so an ai 7
 * model needs this cast to type-check; Mastra runs it as is.
 */
export function asMastraModel(model: MockLanguageModelV4): MastraModelConfig {
  return model as unknown as MastraModelConfig
}

/**
 * Registers the agent with a Mastra instance without a logger: refusals are what the tests
 * expect, and Mastra would print each as an error.
 */
export function quiet<T extends Agent>(agent: T): T {
  new Mastra({ agents: { agent }, logger: false })
  return agent
}

/** Model calls made so far, generate and stream. */
export function modelCalls(model: MockLanguageModelV4): number {
  return model.doGenerateCalls.length + model.doStreamCalls.length
}

/** The `search` tool, with a counter of its real executions. */
export function searchTool() {
  const counter = { runs: 0 }
  const tool = createTool({
    id: 'search',
    description: 'Searches the web.',
    inputSchema: z.object({ query: z.string() }),
    execute: async () => {
      counter.runs++
      return { hits: ['result'] }
    },
  })
  return { tool, counter }
}

/**
 * Loop detection off: the looping model repeats one call shape, which the detectors stop
 * within a few steps; tests of the cap need the loop to run into the cap instead.
 */
export const CAP_ONLY: RunawayConfig = {
  slowLoop: { enabled: false },
  repeatedToolCall: { enabled: false },
}

/** A kill switch with the tests' prices (and `toolPrices`, if given) and one agent. */
export async function killSwitchWithAgent(
  spendingCap: number,
  handle = 'mastra-agent',
  runaway?: RunawayConfig,
  toolPrices?: Record<string, number>,
) {
  const ks: KillSwitch = createKillSwitch({ prices: PRICES, ...(toolPrices ? { toolPrices } : {}) })
  const agent = await ks.agents.create({ handle, spendingCap, ...(runaway ? { runaway } : {}) })
  return { ks, credential: agent.credential, handle }
}

/**
 * A looping agent guarded by a kill switch processor (input and output), on a new kill
 * switch with one agent. `model` is the looping model's options, or a model of the test's own.
 */
export async function processorAgent(
  spendingCap: number,
  model: LoopingModelOptions | MockLanguageModelV4 = {},
  toolPrices?: Record<string, number>,
  runaway?: RunawayConfig,
) {
  const setup = await killSwitchWithAgent(spendingCap, undefined, runaway)
  const scripted = model instanceof MockLanguageModelV4 ? model : loopingModel(model)
  const { tool, counter } = searchTool()
  const processor = killSwitchProcessor({
    killSwitch: setup.ks,
    credential: setup.credential,
    ...(toolPrices ? { toolPrices } : {}),
  })
  const agent = quiet(
    new Agent({
      id: 'looper',
      name: 'looper',
      instructions: 'Search until you are told to stop.',
      model: asMastraModel(scripted),
      tools: { search: tool },
      inputProcessors: [processor],
      outputProcessors: [processor],
    }),
  )
  return { ...setup, model: scripted, counter, agent, processor }
}

/**
 * `target` with some members replaced, the rest read from it (its methods bound to it: the
 * core's guards and calls keep private fields, so neither a spread nor a prototype copy works).
 */
export function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T]
      const value = Reflect.get(object, property, object)
      return typeof value === 'function' ? value.bind(object) : value
    },
  })
}
