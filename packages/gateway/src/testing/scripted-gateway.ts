// Test support: a gateway in front of a node:http upstream that answers as each test scripts
// it (a provider that refuses, breaks off, lies), over a memory store. The upstream serves
// both APIs (OpenAI under /v1, Anthropic at its root). Not exported.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createKillSwitch, type KillSwitch } from '@killswitch/core'
import { type StartGatewayOptions, startGateway } from '../start-gateway.js'

/** A gateway in front of a node:http upstream answering with `handler`, on a memory store. */
export async function scriptedGateway(
  handler: (request: IncomingMessage, response: ServerResponse, ks: KillSwitch) => void,
  onError?: (error: unknown) => void,
  options: Partial<Omit<StartGatewayOptions, 'killSwitch'>> = {},
) {
  const ks = createKillSwitch({
    prices: {
      'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
      'text-embedding-3-small': { inputPerMTok: 0.02, outputPerMTok: 0 },
      'claude-sonnet-4-0': { inputPerMTok: 3, outputPerMTok: 15 },
    },
    runaway: false,
  })
  const upstream = createServer((request, response) => handler(request, response, ks))
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const { port } = upstream.address() as AddressInfo
  const gateway = await startGateway({
    killSwitch: ks,
    port: 0,
    env: {
      OPENAI_API_KEY: 'sk-unused',
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      ANTHROPIC_API_KEY: 'sk-ant-unused',
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`,
    },
    ...(onError ? { onError } : {}),
    ...options,
  })
  return {
    ks,
    gateway,
    async close() {
      await gateway.close()
      upstream.closeAllConnections()
      await new Promise((resolve) => upstream.close(resolve))
      await ks.close()
    },
  }
}
