// Paid HTTP through the gateway: the gateway holds the x402 wallet and pays for the agent
// under its cap, so the agent holds only its ks_ credential. The paid API is the real
// @x402/hono middleware, settled by a local facilitator (the @killswitch/x402 test network).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CREDENTIAL_HEADER, createKillSwitch, type KillSwitch, toMicros } from '@killswitch/core'
import { killSwitchFetch } from '@killswitch/x402'
import { x402Client } from '@x402/core/client'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type HostilePayee, startHostilePayee } from '../../x402/src/testing/hostile-payee.js'
import { TEST_NETWORK } from '../../x402/src/testing/paid-server.js'
import { startNetwork } from '../../x402/src/testing/x402-fixture.js'
import { type RunningGateway, startGateway } from './start-gateway.js'

describe('paid HTTP (x402) through the gateway', () => {
  let network: Awaited<ReturnType<typeof startNetwork>>
  let ks: KillSwitch
  let gateway: RunningGateway
  // Takes the payment, then drops the connection before answering.
  let dropper: HostilePayee
  const errors: unknown[] = []
  const account = privateKeyToAccount(generatePrivateKey())
  // The gateway's wallet. The spy proves what was signed: a refused payment never is.
  const signTypedData = vi.fn(account.signTypedData)
  const seenHeaders: Record<string, unknown>[] = []
  // An origin the gateway may not fetch: a redirect to it must not be followed.
  const outside: string[] = []
  const notAllowed = createServer((req, res) => {
    outside.push(req.url ?? '')
    res.end('{}')
  })
  const echo = createServer((req, res) => {
    seenHeaders.push(req.headers)
    if (req.url === '/moved') {
      const port = (notAllowed.address() as AddressInfo).port
      res.writeHead(302, { location: `http://127.0.0.1:${port}/secret` })
      res.end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"free":true}')
  })

  beforeAll(async () => {
    network = await startNetwork()
    dropper = await startHostilePayee(network.facilitator, { behaviour: 'settle-then-drop' })
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
    await new Promise<void>((resolve) => notAllowed.listen(0, '127.0.0.1', resolve))
    ks = createKillSwitch({ runaway: false })
    const client = new x402Client().register(
      TEST_NETWORK,
      new ExactEvmScheme({ address: account.address, signTypedData }),
    )
    gateway = await startGateway({
      killSwitch: ks,
      port: 0,
      env: {},
      maxBodyBytes: 64 * 1024,
      onError: (error) => errors.push(error),
      x402: {
        origins: [
          network.server.url,
          dropper.url,
          `http://127.0.0.1:${(echo.address() as AddressInfo).port}`,
        ],
        payingFetch: (credential) => killSwitchFetch({ killSwitch: ks, credential, client }),
      },
    })
  })
  afterAll(async () => {
    await gateway?.close()
    await dropper?.close()
    await network?.close()
    await new Promise((resolve) => echo.close(resolve))
    await new Promise((resolve) => notAllowed.close(resolve))
    await ks?.close()
  })

  const paid = (credential: string, target: string) =>
    fetch(`${gateway.url}/x402/${target}`, { headers: { authorization: `Bearer ${credential}` } })

  it('pays for the agent, charged exactly the price, and the agent never signs', async () => {
    const agent = await ks.agents.create({ handle: 'buyer', spendingCap: 1 })
    const served = network.server.served
    const response = await paid(agent.credential, `${network.server.url}/search?q=kill+switch`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      query: 'kill switch',
      results: ['kill switch: result 1', 'kill switch: result 2'],
    })
    expect(network.server.served).toBe(served + 1)
    expect(signTypedData).toHaveBeenCalledTimes(1)
    expect(toMicros((await ks.agents.get('buyer')).spent)).toBe(10_000)
  })

  it('a payment answered by a dropped connection: 502 payment_outcome_unknown, charged, not to be retried', async () => {
    const agent = await ks.agents.create({ handle: 'dropped-buyer', spendingCap: 1 })
    const collected = dropper.collected()
    errors.length = 0
    const response = await paid(agent.credential, `${dropper.url}/paid`)
    expect(response.status).toBe(502)
    expect(response.headers.get('x-should-retry')).toBe('false')
    const { error } = (await response.json()) as { error: { code: string; message: string } }
    expect(error.code).toBe('payment_outcome_unknown')
    expect(error.message).toMatch(/\$0\.01 was sent.*charged to the agent's cap.*Do not retry/)
    // The payee's failure, not the gateway's: nothing reported as unexpected.
    expect(errors).toEqual([])
    // What the payee collected (USDC: 6 decimals, micro-dollars) is what the ledger charged.
    await dropper.collectAll()
    expect(Number(dropper.collected() - collected)).toBe(10_000)
    expect(toMicros((await ks.agents.get('dropped-buyer')).spent)).toBe(10_000)
  })

  it('refuses before signing: over the cap (402), revoked (401), an origin not configured (403)', async () => {
    signTypedData.mockClear()
    const poor = await ks.agents.create({ handle: 'poor-buyer', spendingCap: 0.005 })
    const overCap = await paid(poor.credential, `${network.server.url}/search?q=x`)
    expect(overCap.status).toBe(402)
    expect(await overCap.json()).toMatchObject({ error: { code: 'spending_cap_exceeded' } })

    const revoked = await ks.agents.create({ handle: 'revoked-buyer', spendingCap: 1 })
    await ks.agents.revoke('revoked-buyer', { reason: 'test' })
    expect((await paid(revoked.credential, `${network.server.url}/search?q=x`)).status).toBe(401)
    // Admitted before the target is read: 401 whatever it asks for.
    expect((await paid(revoked.credential, 'http://169.254.169.254/latest')).status).toBe(401)

    const rich = await ks.agents.create({ handle: 'wanderer', spendingCap: 1 })
    const elsewhere = await paid(rich.credential, 'http://169.254.169.254/latest/meta-data')
    expect(elsewhere.status).toBe(403)
    expect(await elsewhere.json()).toMatchObject({ error: { code: 'origin_not_allowed' } })
    expect(signTypedData).not.toHaveBeenCalled()
    expect((await ks.agents.get('poor-buyer')).spent).toBe(0)
  })

  it('never passes the agent credential on to the target, in any header it is read from', async () => {
    const agent = await ks.agents.create({ handle: 'quiet-buyer', spendingCap: 1 })
    const port = (echo.address() as AddressInfo).port
    const url = `${gateway.url}/x402/http://127.0.0.1:${port}/free`
    for (const header of ['authorization', 'x-api-key', CREDENTIAL_HEADER]) {
      seenHeaders.length = 0
      const value = header === 'authorization' ? `Bearer ${agent.credential}` : agent.credential
      const response = await fetch(url, {
        headers: { [header]: value, accept: 'application/json', 'x-custom': 'dropped' },
      })
      expect(await response.json()).toEqual({ free: true })
      expect(seenHeaders).toHaveLength(1)
      expect(JSON.stringify(seenHeaders)).not.toContain(agent.credential)
      // Only the allow-listed headers are passed on.
      expect(seenHeaders[0]).toMatchObject({ accept: 'application/json' })
      expect(seenHeaders[0]).not.toHaveProperty('x-custom')
    }
  })

  it('does not follow a redirect out of the allowed origins: the agent gets it', async () => {
    const agent = await ks.agents.create({ handle: 'redirected-buyer', spendingCap: 1 })
    const port = (echo.address() as AddressInfo).port
    const response = await fetch(`${gateway.url}/x402/http://127.0.0.1:${port}/moved`, {
      headers: { authorization: `Bearer ${agent.credential}` },
      redirect: 'manual',
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/\/secret$/)
    expect(outside).toEqual([])
  })

  it('refuses a body past maxBodyBytes with 413, before fetching', async () => {
    const agent = await ks.agents.create({ handle: 'bulky-buyer', spendingCap: 1 })
    const port = (echo.address() as AddressInfo).port
    seenHeaders.length = 0
    const response = await fetch(`${gateway.url}/x402/http://127.0.0.1:${port}/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.credential}` },
      body: 'x'.repeat(128 * 1024),
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { code: 'request_too_large' } })
    expect(seenHeaders).toHaveLength(0)
  })
})
