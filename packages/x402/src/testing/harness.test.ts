import { ExactEvmScheme } from '@x402/evm/exact/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalFacilitator, startLocalFacilitator } from './local-facilitator.js'
import { type PaidServer, startPaidServer, TEST_NETWORK } from './paid-server.js'

describe('offline x402 round trip (harness)', () => {
  let facilitator: LocalFacilitator
  let server: PaidServer
  const payee = privateKeyToAccount(generatePrivateKey()).address
  beforeAll(async () => {
    facilitator = await startLocalFacilitator([TEST_NETWORK])
    server = await startPaidServer({ facilitatorUrl: facilitator.url, payTo: payee })
  })
  afterAll(async () => {
    await server?.close()
    await facilitator?.close()
  })

  it('pays, verifies and settles a $0.01 search', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const client = new x402Client().register(TEST_NETWORK, new ExactEvmScheme(account))
    const pay = wrapFetchWithPayment(fetch, client)
    const response = await pay(`${server.url}/search?q=kill`)
    if (response.status !== 200)
      console.log(
        response.status,
        response.headers.get('payment-required') &&
          JSON.parse(atob(response.headers.get('payment-required')!)),
        await response.clone().text(),
      )
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ query: 'kill' })
    expect(facilitator.transfers).toEqual([
      { from: account.address, to: payee, value: '10000', transaction: expect.any(String) },
    ])
  })
})
