// Everything a killSwitchFetch test needs, offline: a facilitator, a paid search API, a
// kill switch with one agent, and an x402 client whose signer is a spy.
import {
  createKillSwitch,
  type KillSwitch,
  type KillSwitchOptions,
  type SpendRules,
} from '@killswitch/core'
import { x402Client } from '@x402/core/client'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/client'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, beforeEach, vi } from 'vitest'
import { type KillSwitchFetchOptions, killSwitchFetch } from '../kill-switch-fetch.js'
import { type LocalFacilitator, startLocalFacilitator, V1_NETWORK } from './local-facilitator.js'
import { type PaidServer, startPaidServer, TEST_NETWORK } from './paid-server.js'

/** The payee of the paid search API. */
export const PAYEE = privateKeyToAccount(generatePrivateKey()).address

/** The facilitator and the paid API, shared by the tests of one file. */
export async function startNetwork(): Promise<{
  facilitator: LocalFacilitator
  server: PaidServer
  close(): Promise<void>
}> {
  const facilitator = await startLocalFacilitator([TEST_NETWORK])
  const server = await startPaidServer({ facilitatorUrl: facilitator.url, payTo: PAYEE })
  return {
    facilitator,
    server,
    async close() {
      await server.close()
      await facilitator.close()
    },
  }
}

/**
 * The network of one test file: started before its tests, closed after them, its paid route
 * and stub chain honest again before each test (a test flips what it needs).
 *
 * @example
 * const network = useNetwork()
 * it('pays', async () => { await agent.pay(`${network().server.url}/search?q=1`) })
 */
export function useNetwork(): () => Awaited<ReturnType<typeof startNetwork>> {
  let network: Awaited<ReturnType<typeof startNetwork>> | undefined
  beforeAll(async () => {
    network = await startNetwork()
  })
  afterAll(() => network?.close())
  beforeEach(() => {
    const { server, facilitator } = started()
    Object.assign(server.route, { price: '$0.01', payTo: PAYEE, handler: 'ok' })
    Object.assign(server.route, { beforeServe: undefined, uptoMax: '$0.05', uptoCharge: '$0.02' })
    Object.assign(facilitator.chain, { verify: 'ok', settle: 'ok' })
  })
  const started = () => {
    if (!network) throw new Error('useNetwork: the network starts in beforeAll')
    return network
  }
  return started
}

/** A kill switch with one agent, and a guarded fetch for it over a spied signer. */
export async function startAgent(
  options: {
    spendingCap?: number
    /** The agent's own spend rules (its policy in the core). */
    spendRules?: SpendRules
    killSwitch?: KillSwitchOptions
    fetch?: Partial<Omit<KillSwitchFetchOptions, 'killSwitch' | 'credential' | 'client'>>
    client?: (client: x402Client) => void
  } = {},
) {
  const ks: KillSwitch = createKillSwitch({ runaway: false, ...options.killSwitch })
  const handle = 'search-agent'
  const agent = await ks.agents.create({
    handle,
    spendingCap: options.spendingCap ?? 1,
    ...(options.spendRules ? { spendRules: options.spendRules } : {}),
  })
  const account = privateKeyToAccount(generatePrivateKey())
  // The spy proves what was signed: a refused payment never reaches it.
  const signTypedData = vi.fn(account.signTypedData)
  const signer = { address: account.address, signTypedData }
  const client = new x402Client()
    .register(TEST_NETWORK, new ExactEvmScheme(signer))
    .register(TEST_NETWORK, new UptoEvmScheme(signer))
    .registerV1(V1_NETWORK, new ExactEvmSchemeV1(signer))
  options.client?.(client)
  const pay = killSwitchFetch({
    killSwitch: ks,
    credential: agent.credential,
    client,
    ...options.fetch,
  })
  return {
    ks,
    handle,
    credential: agent.credential,
    account,
    signTypedData,
    client,
    pay,
    get: () => ks.agents.get(handle),
    audit: () => ks.audit(handle),
  }
}
