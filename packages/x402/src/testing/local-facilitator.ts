// An offline x402 facilitator for tests: the real `x402Facilitator` with the real exact EVM
// facilitator scheme, over a stub chain. Signatures are really checked (viem recovers the
// signer locally); only the chain calls are stubbed, and each can be made to fail.
import { type ServerType, serve } from '@hono/node-server'
import { x402Facilitator } from '@x402/core/facilitator'
import type { Network, PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { type FacilitatorEvmSigner, getDefaultAsset } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/facilitator'
import { UptoEvmScheme } from '@x402/evm/upto/facilitator'
import { Hono } from 'hono'
import { type Hex, verifyTypedData } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

/** How the stub chain behaves on the next calls. Tests flip these between requests. */
export interface ChainBehaviour {
  /** `fail`: reading the token contract throws, so verification fails. */
  verify: 'ok' | 'fail'
  /** `revert`: the transfer's receipt says reverted, so settlement fails. */
  settle: 'ok' | 'revert'
}

/** A running local facilitator. */
export interface LocalFacilitator {
  /** Base URL for `HTTPFacilitatorClient({ url })`. */
  url: string
  /** Mutable: the stub chain's behaviour for the following calls. */
  chain: ChainBehaviour
  /** Transfers the stub chain accepted, in order, with their transaction hashes. */
  transfers: Array<{ from: string; to: string; value: string; transaction: string }>
  close(): Promise<void>
}

/**
 * Starts a facilitator on 127.0.0.1 (a free port) for the given networks. The networks'
 * default assets (and `extraTokens`) are the stub chain's token contracts.
 */
export async function startLocalFacilitator(
  networks: Network[],
  options: { extraTokens?: string[] } = {},
): Promise<LocalFacilitator> {
  const tokens = new Set(
    [
      ...networks.map((network) => getDefaultAsset(network).asset),
      ...(options.extraTokens ?? []),
    ].map((address) => address.toLowerCase()),
  )
  const chain: ChainBehaviour = { verify: 'ok', settle: 'ok' }
  const transfers: LocalFacilitator['transfers'] = []
  const operator = privateKeyToAccount(generatePrivateKey())
  const chainStub: FacilitatorEvmSigner = {
    getAddresses: () => [operator.address],
    // Bytecode for the tokens, so the asset counts as a deployed contract; '0x' for anyone
    // else, so the payer is an EOA and its signature is checked by ECDSA recovery.
    getCode: async ({ address }) => (tokens.has(address.toLowerCase()) ? '0x6080' : '0x'),
    readContract: async () => {
      if (chain.verify === 'fail') throw new Error('stub chain: token contract unreachable')
      return 0n
    },
    verifyTypedData: (args) => verifyTypedData(args as Parameters<typeof verifyTypedData>[0]),
    writeContract: async ({ functionName, args }) => {
      const transaction = randomHash()
      transfers.push({ ...transferOf(functionName, args), transaction })
      return transaction
    },
    sendTransaction: async () => randomHash(),
    waitForTransactionReceipt: async () => ({
      status: chain.settle === 'revert' ? 'reverted' : 'success',
    }),
  }
  const facilitator = new x402Facilitator()
    .register(networks, new ExactEvmScheme(chainStub))
    .register(networks, new UptoEvmScheme(chainStub))
    .registerV1(V1_NETWORK, new ExactEvmSchemeV1(chainStub))

  const app = new Hono()
  app.get('/supported', (c) => c.json(facilitator.getSupported()))
  app.post('/verify', async (c) => {
    const body = (await c.req.json()) as Body
    return c.json(await facilitator.verify(body.paymentPayload, body.paymentRequirements))
  })
  app.post('/settle', async (c) => {
    const body = (await c.req.json()) as Body
    return c.json(await facilitator.settle(body.paymentPayload, body.paymentRequirements))
  })
  const { server, url } = await listenOnLoopback(app.fetch)
  return {
    url,
    chain,
    transfers,
    close: () => closeServer(server),
  } satisfies LocalFacilitator
}

/** The v1 name of the test network (x402 v1 names networks, v2 uses CAIP-2). */
export const V1_NETWORK = 'base-sepolia' as Network

interface Body {
  paymentPayload: PaymentPayload
  paymentRequirements: PaymentRequirements
}

/** Who pays whom how much, from the settling call: exact (EIP-3009) or upto (Permit2). */
function transferOf(functionName: string, args: readonly unknown[]) {
  if (functionName === 'transferWithAuthorization') {
    const [from, to, value] = args as [string, string, bigint]
    return { from, to, value: String(value) }
  }
  // x402's upto proxy: settle(permit, amount, owner, witness, signature).
  const [, value, from, witness] = args as [unknown, bigint, string, { to: string }]
  return { from, to: witness.to, value: String(value) }
}

function randomHash(): Hex {
  return generatePrivateKey()
}

/** Serves `fetch` on 127.0.0.1, port 0 (the OS picks a free one: test files never collide). */
export function listenOnLoopback(
  fetch: Parameters<typeof serve>[0]['fetch'],
): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ server, url: `http://127.0.0.1:${info.port}` }),
    )
  })
}

/** Closes a node server and its idle keep-alive connections. */
export function closeServer(server: {
  close(callback: (error?: Error) => void): unknown
  closeAllConnections?: () => void
}): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()))
    server.closeAllConnections?.()
  })
}
