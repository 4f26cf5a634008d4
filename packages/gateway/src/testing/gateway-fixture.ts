// A gateway in front of the fake providers, over a memory store, with everything it logs
// and every error it reports collected, so tests can look for leaked secrets.
import {
  createKillSwitch,
  type KillSwitch,
  type ModelPrice,
  type RunawayMonitor,
  toMicros,
} from '@killswitch/core'
import { type RunningGateway, startGateway } from '../start-gateway.js'
import { type FakePrice, type FakeUpstream, startFakeUpstream } from './fake-upstream.js'

export const OPENAI_KEY = 'sk-proj-FAKEopenaiKEY0123456789abcdefghijklmnop'
export const ANTHROPIC_KEY = 'sk-ant-api03-FAKEanthropicKEY0123456789abcdefghij'

/** One price list, given to both the kill switch and the fake provider's bill. */
export const PRICES: Record<string, FakePrice> = {
  'gpt-4o': { input: 2.5, cacheRead: 1.25, output: 10 },
  'claude-sonnet-4-6': { input: 3, cacheRead: 0.3, cacheWrite: 3.75, output: 15 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  // Priced by the bundled data only (input only, as for every embedding model there).
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'leaky-error': { input: 1, output: 1 },
}

/** Models the kill switch prices from its bundled data, not from the list above. */
const BUNDLED = new Set(['text-embedding-3-large'])

function modelPrices(): Record<string, ModelPrice> {
  const prices: Record<string, ModelPrice> = {}
  for (const [model, price] of Object.entries(PRICES)) {
    if (BUNDLED.has(model)) continue
    prices[model] = {
      inputPerMTok: price.input,
      outputPerMTok: price.output,
      ...(price.cacheRead === undefined ? {} : { cacheReadPerMTok: price.cacheRead }),
      ...(price.cacheWrite === undefined ? {} : { cacheWritePerMTok: price.cacheWrite }),
    }
  }
  return prices
}

export interface GatewayFixture {
  ks: KillSwitch
  upstream: FakeUpstream
  gateway: RunningGateway
  /** The OpenAI SDK base URL: `${gateway.url}/v1`. */
  openaiBaseURL: string
  /** Log lines and reported errors, as written. */
  logs: string[]
  /** A new agent with this cap; returns its credential. */
  agent(handle: string, spendingCap?: number): Promise<string>
  /** The agent's spend, in micro-dollars. */
  spentMicros(handle: string): Promise<number>
  close(): Promise<void>
}

export async function startGatewayFixture(
  options: { runaway?: RunawayMonitor | false; openaiKey?: string } = {},
): Promise<GatewayFixture> {
  const upstream = await startFakeUpstream({
    openaiKey: OPENAI_KEY,
    anthropicKey: ANTHROPIC_KEY,
    prices: PRICES,
  })
  const logs: string[] = []
  const ks = createKillSwitch({
    prices: modelPrices(),
    runaway: options.runaway ?? false,
    onError: (error) => logs.push(`ks error: ${String(error)}`),
  })
  const gateway = await startGateway({
    killSwitch: ks,
    port: 0,
    // The provider keys come from the environment under the SDKs' own names.
    env: {
      OPENAI_API_KEY: options.openaiKey ?? OPENAI_KEY,
      OPENAI_BASE_URL: upstream.openaiBaseURL,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: upstream.anthropicBaseURL,
    },
    log: (line) => logs.push(line),
    onError: (error) =>
      logs.push(
        `error: ${error instanceof Error ? `${error.message} ${String(error.cause)}` : String(error)}`,
      ),
  })
  return {
    ks,
    upstream,
    gateway,
    openaiBaseURL: `${gateway.url}/v1`,
    logs,
    async agent(handle, spendingCap = 10) {
      const created = await ks.agents.create({ handle, spendingCap })
      return created.credential
    },
    async spentMicros(handle) {
      return toMicros((await ks.agents.get(handle)).spent)
    },
    async close() {
      await gateway.close()
      await upstream.close()
      await ks.close()
    },
  }
}
