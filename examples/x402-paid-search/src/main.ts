// An agent loops on a paid search API (x402, HTTP 402) and its model; one kill switch cap
// stops both at the same dollar, and one revocation refuses its next payment before it is
// signed. Offline: the search API, the x402 facilitator (a stub chain, real signature
// checks) and the agent all run on 127.0.0.1. Run: npm run example -- x402-paid-search
import { serve } from '@hono/node-server'
import { createKillSwitch, findKillSwitchError } from '@killswitch/core'
import { killSwitchFetch } from '@killswitch/x402'
import { x402Client } from '@x402/core/client'
import { x402Facilitator } from '@x402/core/facilitator'
import { HTTPFacilitatorClient } from '@x402/core/server'
import type { Network, PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { getDefaultAsset } from '@x402/evm'
import { ExactEvmScheme as ExactEvmClient } from '@x402/evm/exact/client'
import { ExactEvmScheme as ExactEvmFacilitator } from '@x402/evm/exact/facilitator'
import { ExactEvmScheme as ExactEvmServer } from '@x402/evm/exact/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/hono'
import { Hono } from 'hono'
import { verifyTypedData } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

const NETWORK: Network = 'eip155:84532' // Base Sepolia: its default asset is USDC
const HANDLE = 'search-agent-7'

export interface PaidSearchResult {
  spent: number
  spendingCap: number
  modelCalls: number
  searches: number
  /** The code of the error that stopped the loop. */
  stoppedBy: string
  /** A search API that took the signed payment and answered 500: what the ledger charged. */
  flakyStatus: number
  chargedForFlaky: number
  /** After revocation, the next search was refused with agent_revoked. */
  revokedRefused: boolean
  /** Payments the agent's key signed, and transfers the (stub) chain made. */
  signatures: number
  transfers: number
}

export async function runPaidSearch(log: (line: string) => void = console.log) {
  const payee = privateKeyToAccount(generatePrivateKey()).address
  const facilitator = await startFacilitator()
  const api = await startSearchApi(facilitator.url, payee)

  // --- The kill switch: one agent, one cap for its model and its payments.
  const ks = createKillSwitch({
    prices: { 'scripted-model': { inputPerMTok: 3, outputPerMTok: 15 } },
  })
  const agent = await ks.agents.create({ handle: HANDLE, spendingCap: 0.1 })
  log(`provisioned ${HANDLE} with a $${agent.spendingCap} cap for model calls and payments`)
  const guard = ks.guard(agent.credential)

  // --- The agent's wallet (a throwaway key) and its guarded fetch: the integration.
  const account = privateKeyToAccount(generatePrivateKey())
  let signatures = 0
  const signer = {
    address: account.address,
    signTypedData: (message: Parameters<typeof account.signTypedData>[0]) => {
      signatures++
      return account.signTypedData(message)
    },
  }
  const client = new x402Client().register(NETWORK, new ExactEvmClient(signer))
  const pay = killSwitchFetch({
    killSwitch: ks,
    credential: agent.credential,
    client,
    allowedPayees: [payee],
    maxPaymentUsd: 0.05,
  })

  // The agent's tool, in the shape the AI SDK's tool() takes (see the package README).
  const paidSearch = {
    description: 'Search the web. Costs $0.01 per query.',
    execute: async ({ query }: { query: string }) => {
      const response = await pay(`${api.url}/search?q=${encodeURIComponent(query)}`)
      return (await response.json()) as { results: string[] }
    },
  }

  // --- A search API that takes the signed payment, then fails (500). The payee still holds
  // the signature and can submit it until it expires, so the payment is charged all the same.
  const flaky = await pay(`${api.url}/search-flaky?q=agent+budget+papers`)
  const chargedForFlaky = (await ks.agents.get(HANDLE)).spent
  log(
    `the flaky API answered ${flaky.status} after taking a signed payment: charged $${chargedForFlaky} anyway`,
  )

  // --- The loop a buggy agent runs at 2 AM: think, search the same thing, repeat.
  let modelCalls = 0
  let searches = 0
  let stoppedBy = 'nothing'
  try {
    for (let step = 1; step <= 1_000; step++) {
      const ticket = await guard.beforeModelCall({
        model: 'scripted-model',
        input: `step ${step}: the results were not good enough, search again`,
        maxOutputTokens: 200,
      })
      // Usage within what the prompt can hold (about 60 bytes): the hold bounds it.
      await guard.afterModelCall(ticket, { usage: { inputTokens: 15, outputTokens: 100 } })
      modelCalls++
      await paidSearch.execute({ query: 'agent budget papers' })
      searches++
    }
  } catch (error) {
    const found = findKillSwitchError(error)
    stoppedBy = found?.code ?? 'unexpected error'
    log(
      `stopped after ${modelCalls} model calls and ${searches} paid searches: ${found?.message ?? String(error)}`,
    )
  }

  // --- The operator pulls the switch: the next payment is refused before it is signed.
  // (The cap is raised first, so that it is the revocation, not the cap, that refuses.)
  await ks.agents.update(HANDLE, { spendingCap: 1 })
  log('raised the cap to $1, then revoked the agent')
  await ks.agents.revoke(HANDLE, { reason: 'looping on paid search' })
  const signedBefore = signatures
  let revokedRefused = false
  try {
    await paidSearch.execute({ query: 'one more' })
  } catch (error) {
    revokedRefused =
      findKillSwitchError(error)?.code === 'agent_revoked' && signatures === signedBefore
    log(`after revocation: ${(error as Error).message}`)
  }

  const state = await ks.agents.get(HANDLE)
  log(
    `spent $${state.spent}; ${signatures} payments signed, ${facilitator.transfers} settled on chain`,
  )
  log('payments in the audit log:')
  for (const entry of await ks.audit(HANDLE)) {
    if (entry.data.kind !== 'payment' || entry.type === 'hold') continue
    const {
      payee: to,
      cost,
      amountUsd,
      amount,
      resource,
      paymentOutcome,
      reason,
      code,
    } = entry.data
    // Settled and released entries carry the payment's outcome (with the reason when the
    // payee proved nothing); a denial, the refusal's code.
    const why =
      paymentOutcome === 'outcome_unknown' ? `outcome_unknown (${reason})` : paymentOutcome
    log(
      `  ${entry.type.padEnd(8)} $${cost ?? amountUsd ?? amount} to ${String(to).slice(0, 10)}... for ${resource}: ${why ?? code}`,
    )
  }

  await ks.close()
  await api.close()
  await facilitator.close()
  return {
    spent: state.spent,
    spendingCap: 0.1,
    flakyStatus: flaky.status,
    chargedForFlaky,
    modelCalls,
    searches,
    stoppedBy,
    revokedRefused,
    signatures,
    transfers: facilitator.transfers,
  } satisfies PaidSearchResult
}

// --- The paid search API: x402's Hono middleware verifies and settles each query.
async function startSearchApi(facilitatorUrl: string, payTo: string) {
  const server = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: facilitatorUrl }),
  ).register(NETWORK, new ExactEvmServer())
  const app = new Hono()
  app.use(
    paymentMiddleware(
      {
        'GET /search': { accepts: { scheme: 'exact', price: '$0.01', network: NETWORK, payTo } },
        'GET /search-flaky': {
          accepts: { scheme: 'exact', price: '$0.01', network: NETWORK, payTo },
        },
      },
      server,
    ),
  )
  app.get('/search', (c) => c.json({ results: [`${c.req.query('q')}: a paper`] }))
  app.get('/search-flaky', (c) => c.json({ error: 'index unavailable' }, 500))
  return listen(app)
}

// --- A local x402 facilitator: the real exact-EVM facilitator scheme over a stub chain.
// Signatures are really checked (ECDSA recovery through viem); the chain calls are stubbed.
// In production, point HTTPFacilitatorClient at a real facilitator instead.
async function startFacilitator() {
  const token = getDefaultAsset(NETWORK).asset.toLowerCase()
  const operator = privateKeyToAccount(generatePrivateKey())
  const state = { transfers: 0 }
  const facilitator = new x402Facilitator().register(
    NETWORK,
    new ExactEvmFacilitator({
      getAddresses: () => [operator.address],
      getCode: async ({ address }) => (address.toLowerCase() === token ? '0x6080' : '0x'),
      readContract: async () => 0n,
      verifyTypedData: (args) => verifyTypedData(args as Parameters<typeof verifyTypedData>[0]),
      writeContract: async () => {
        state.transfers++
        return generatePrivateKey() // a random transaction hash
      },
      sendTransaction: async () => generatePrivateKey(),
      waitForTransactionReceipt: async () => ({ status: 'success' }),
    }),
  )
  type Body = { paymentPayload: PaymentPayload; paymentRequirements: PaymentRequirements }
  const app = new Hono()
  app.get('/supported', (c) => c.json(facilitator.getSupported()))
  app.post('/verify', async (c) => {
    const { paymentPayload, paymentRequirements } = await c.req.json<Body>()
    return c.json(await facilitator.verify(paymentPayload, paymentRequirements))
  })
  app.post('/settle', async (c) => {
    const { paymentPayload, paymentRequirements } = await c.req.json<Body>()
    return c.json(await facilitator.settle(paymentPayload, paymentRequirements))
  })
  const { url, close } = await listen(app)
  return {
    url,
    close,
    get transfers() {
      return state.transfers
    },
  }
}

/** Serves an app on 127.0.0.1, on a port the OS picks. */
function listen(app: Hono): Promise<{ url: string; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            if ('closeAllConnections' in server) server.closeAllConnections()
          }),
      }),
    )
  })
}

if (import.meta.main) await runPaidSearch()
