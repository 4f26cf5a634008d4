// Shared setup for this package's tests: a kill switch with a priced test model, an agent,
// and counters of what the ledger did. Not exported from the package.

import {
  createKillSwitch,
  type KillSwitch,
  type KillSwitchOptions,
  type RunawayConfig,
  toMicros,
} from '@killswitch/core'
import { fakeModel } from '@langchain/core/testing'
import { tool } from '@langchain/core/tools'
import { ChatOpenAI } from '@langchain/openai'
import { z } from 'zod'
import { type OpenAIServer, type OpenAIServerOptions, openAIServer } from './openai-server.js'

/** $1 per thousand tokens in and out: large enough that a few calls reach a small cap. */
export const TEST_MODEL = 'test-model'
export const TEST_PRICES = { [TEST_MODEL]: { inputPerMTok: 1000, outputPerMTok: 1000 } }

/**
 * The most a stream stopped at its hold is charged, in dollars: the hold, and the piece past
 * it that the provider sent before it was stopped (sent, so billed). These fakes stream a
 * character (a counted token) a piece unless told otherwise.
 */
export function heldAndCrossingPiece(reservedUsd: number, pieceTokens = 1): number {
  return (toMicros(reservedUsd) + pieceTokens * TEST_PRICES[TEST_MODEL].outputPerMTok) / 1e6
}

export interface TestAgent {
  ks: KillSwitch
  handle: string
  credential: string
  /** Costs of the settled calls, in order. */
  settled: number[]
  /** Amounts reserved, in order. */
  reserved: number[]
  /** Hold ids released without spending. */
  released: string[]
}

let counter = 0

/**
 * A kill switch with the test prices and one agent.
 *
 * @example
 * const { ks, credential } = await testAgent({ spendingCap: 5 })
 */
export async function testAgent(
  options: { spendingCap?: number; runaway?: RunawayConfig } = {},
  ksOptions: KillSwitchOptions = {},
): Promise<TestAgent> {
  const ks = createKillSwitch({ prices: TEST_PRICES, ...ksOptions })
  counter += 1
  const handle = `langchain-test-${counter}`
  const created = await ks.agents.create({
    handle,
    spendingCap: options.spendingCap ?? 100,
    ...(options.runaway === undefined ? {} : { runaway: options.runaway }),
  })
  const agent: TestAgent = {
    ks,
    handle,
    credential: created.credential,
    settled: [],
    reserved: [],
    released: [],
  }
  ks.on('settled', (event) => agent.settled.push(event.cost))
  ks.on('reserved', (event) => agent.reserved.push(event.amount))
  ks.on('released', (event) => agent.released.push(event.holdId))
  return agent
}

/**
 * A `search` tool that records its queries (its own count of what ran).
 *
 * @example
 * const { search, calls } = searchTool()
 */
export function searchTool(onCall?: (q: string) => Promise<void>) {
  const calls: string[] = []
  const search = tool(
    async ({ q }) => {
      calls.push(q)
      await onCall?.(q)
      return `results for ${q}`
    },
    { name: 'search', description: 'Web search', schema: z.object({ q: z.string() }) },
  )
  return { search, calls }
}

/**
 * The real ChatOpenAI against a local server billing as TEST_PRICES do ($1 per thousand
 * tokens), 10 input tokens and up to `outputTokens` of output per request; `server` options
 * (a scripted failure) beside these.
 *
 * @example
 * const { model, provider } = await chatOpenAI({ outputTokens: 400, fields: { n: 4 } })
 */
export async function chatOpenAI(options: {
  outputTokens: number
  fields?: Record<string, unknown>
  server?: Partial<OpenAIServerOptions>
}): Promise<{ model: ChatOpenAI; provider: OpenAIServer }> {
  const provider = await openAIServer({
    inputTokens: 10,
    outputTokens: options.outputTokens,
    inputMicros: 1000,
    outputMicros: 1000,
    ...options.server,
  })
  const model = new ChatOpenAI({
    model: TEST_MODEL,
    apiKey: 'sk-test',
    maxRetries: 0,
    configuration: { baseURL: provider.baseURL },
    ...options.fields,
  })
  return { model, provider }
}

/**
 * The agent's ledger in micro-dollars: spent and held.
 *
 * @example
 * expect(await ledger(agent)).toEqual({ spent: provider.billMicros(), held: 0 })
 */
export async function ledger(agent: TestAgent): Promise<{ spent: number; held: number }> {
  const record = await agent.ks.agents.get(agent.handle)
  return { spent: toMicros(record.spent), held: toMicros(record.held) }
}

/**
 * What the promise rejected with; throws when it resolved.
 *
 * @example
 * const error = await rejection(model.invoke('hi'))
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the call to be rejected')
}

/**
 * The adapter options of `agent`: its kill switch and credential.
 *
 * @example
 * killSwitchMiddleware({ ...guardedBy(agent), model: TEST_MODEL })
 */
export function guardedBy(agent: TestAgent): { killSwitch: KillSwitch; credential: string } {
  return { killSwitch: agent.ks, credential: agent.credential }
}

/**
 * LangChain's `fakeModel()` without client retries. It takes no fields, so its caller keeps
 * LangChain's default of 6 retries (unused by the fake, but guardModel and the middleware
 * cannot tell and refuse it).
 *
 * @example
 * const model = fakeChatModel().respond(new AIMessage('done'))
 */
export function fakeChatModel(): ReturnType<typeof fakeModel> {
  const model = fakeModel()
  Object.assign(model.caller, { maxRetries: 0 })
  return model
}
