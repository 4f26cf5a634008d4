import {
  AgentRevokedError,
  InvalidConfigError,
  SpendingCapExceededError,
  SpendRefusedError,
} from '@killswitch/core'
import { x402Client } from '@x402/core/client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PaymentRefusedError } from './index.js'
import { killSwitchFetch } from './kill-switch-fetch.js'
import type { SettlementClaim } from './payment-charge.js'
import { PAYEE, startAgent, startNetwork } from './testing/x402-fixture.js'

let network: Awaited<ReturnType<typeof startNetwork>>
beforeAll(async () => {
  network = await startNetwork()
})
afterAll(() => network?.close())
beforeEach(() => {
  network.server.route.price = '$0.01'
  network.server.route.payTo = PAYEE
  network.server.route.handler = 'ok'
  network.facilitator.chain.verify = 'ok'
  network.facilitator.chain.settle = 'ok'
  network.server.route.uptoMax = '$0.05'
  network.server.route.uptoCharge = '$0.02'
})

describe('killSwitchFetch: paying', () => {
  it('pays, settles the real amount and audits payee, amount, resource and outcome', async () => {
    const agent = await startAgent({ spendingCap: 1 })
    const response = await agent.pay(`${network.server.url}/search?q=secret-query`)

    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ query: 'secret-query' })
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    const entries = await agent.audit()
    const hold = entries.find((entry) => entry.type === 'hold')
    const settled = entries.find((entry) => entry.type === 'settled')
    const resource = `${network.server.url}/search`
    expect(hold?.data).toMatchObject({ kind: 'payment', payee: PAYEE, amount: 0.01, resource })
    expect(settled?.data).toMatchObject({
      payee: PAYEE,
      resource,
      paymentOutcome: 'settled',
      chargedAtomic: '10000',
    })
    expect(settled?.data.suspicious).toBeUndefined()
    // The query string is the agent's data: it stays out of the audit log.
    expect(JSON.stringify(entries)).not.toContain('secret-query')
  })

  it('charges an upto payment its maximum when nothing proves what it charged', async () => {
    const agent = await startAgent({ spendingCap: 0.07 })
    network.server.route.uptoMax = '$0.05'
    network.server.route.uptoCharge = '$0.02'
    const response = await agent.pay(`${network.server.url}/summarise`)

    expect(response.status).toBe(200)
    expect(network.facilitator.transfers.at(-1)).toMatchObject({ value: '20000' })
    // The payee's header says $0.02, but the signed permit allows $0.05: a claim is not proof.
    expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
    const entries = await agent.audit()
    expect(entries.find((entry) => entry.type === 'hold')?.data).toMatchObject({
      amount: 0.05,
      scheme: 'upto',
    })
    expect(entries.find((entry) => entry.type === 'settled')?.data).toMatchObject({
      paymentOutcome: 'settled',
      basis: 'authorised',
      claimedAtomic: '20000',
      chargedAtomic: '50000',
    })
  })

  it('charges an upto payment what verifySettlement proves it moved on chain', async () => {
    const claims: SettlementClaim[] = []
    // Reads the (stub) chain, as a real verifier reads the transaction's transfer.
    const verifySettlement = (claim: SettlementClaim) => {
      claims.push(claim)
      const transfer = network.facilitator.transfers.find(
        (entry) => entry.transaction === claim.transaction,
      )
      return transfer ? BigInt(transfer.value) : undefined
    }
    const agent = await startAgent({ spendingCap: 0.07, fetch: { verifySettlement } })
    network.server.route.uptoMax = '$0.05'
    network.server.route.uptoCharge = '$0.02'
    expect((await agent.pay(`${network.server.url}/summarise`)).status).toBe(200)

    expect(await agent.get()).toMatchObject({ spent: 0.02, held: 0 })
    expect(claims).toEqual([
      expect.objectContaining({
        scheme: 'upto',
        payTo: PAYEE,
        claimedAtomic: 20000n,
        authorisedAtomic: 50000n,
        paymentPayload: expect.objectContaining({ x402Version: 2 }),
      }),
    ])
    // Exactly the documented claim: nothing of the kill switch's own bookkeeping.
    expect(Object.keys(claims[0] ?? {}).sort()).toEqual([
      'asset',
      'authorisedAtomic',
      'claimedAtomic',
      'network',
      'payTo',
      'paymentPayload',
      'scheme',
      'transaction',
    ])
    expect((await agent.audit()).find((entry) => entry.type === 'settled')?.data).toMatchObject({
      basis: 'verified',
      chargedAtomic: '20000',
    })
    // What upto did not charge is free again: a second one ($0.05 held) fits the $0.05 left.
    expect((await agent.pay(`${network.server.url}/summarise`)).status).toBe(200)
    expect(await agent.get()).toMatchObject({ spent: 0.04, held: 0 })
  })

  it('charges the maximum when verifySettlement fails, proves nothing or answers nonsense', async () => {
    const answers: Array<[() => unknown, string | undefined]> = [
      [
        () => {
          throw new Error('rpc down')
        },
        'rpc down',
      ],
      [() => undefined, undefined],
      [() => -1n, 'verifySettlement returned no bigint amount >= 0'],
      // A number, not a bigint: 20000 atomic would be $0.02, but it is not believed.
      [() => 20_000, 'verifySettlement returned no bigint amount >= 0'],
    ]
    for (const [answer, verifyError] of answers) {
      const verifySettlement = answer as (claim: SettlementClaim) => bigint | undefined
      const agent = await startAgent({ fetch: { verifySettlement } })
      expect((await agent.pay(`${network.server.url}/summarise`)).status).toBe(200)
      expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
      const settled = (await agent.audit()).find((entry) => entry.type === 'settled')
      expect(settled?.data).toMatchObject({ basis: 'authorised', chargedAtomic: '50000' })
      expect(settled?.data.verifyError).toBe(verifyError)
    }
  })

  it('pays an x402 v1 server (X-PAYMENT, maxAmountRequired, X-PAYMENT-RESPONSE) the same way', async () => {
    const agent = await startAgent({ spendingCap: 0.015 })
    const response = await agent.pay(`${network.server.url}/v1/search?q=1`)

    expect(response.status).toBe(200)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
    const settled = (await agent.audit()).find((entry) => entry.type === 'settled')
    expect(settled?.data).toMatchObject({
      payee: PAYEE,
      paymentOutcome: 'settled',
      network: 'base-sepolia',
    })
    await expect(agent.pay(`${network.server.url}/v1/search?q=2`)).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
  })

  it('lets free requests through without paying', async () => {
    const agent = await startAgent()
    const response = await agent.pay(`${network.server.url}/free`)
    expect(await response.json()).toEqual({ free: true })
    expect(agent.signTypedData).not.toHaveBeenCalled()
  })
})

describe('killSwitchFetch: refusing before anything is signed', () => {
  it('refuses the payment that would cross the cap, with the typed error', async () => {
    const agent = await startAgent({ spendingCap: 0.025 })
    await agent.pay(`${network.server.url}/search?q=1`)
    await agent.pay(`${network.server.url}/search?q=2`)
    const transfers = network.facilitator.transfers.length

    await expect(agent.pay(`${network.server.url}/search?q=3`)).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
    expect(agent.signTypedData).toHaveBeenCalledTimes(2)
    expect(network.facilitator.transfers.length).toBe(transfers)
    expect(await agent.get()).toMatchObject({ spent: 0.02, held: 0 })
  })

  it('refuses the next payment once the agent is revoked', async () => {
    const agent = await startAgent()
    await agent.pay(`${network.server.url}/search?q=1`)
    await agent.ks.agents.revoke(agent.handle, { reason: 'looping on search' })

    const refused = agent.pay(`${network.server.url}/search?q=2`)
    await expect(refused).rejects.toBeInstanceOf(AgentRevokedError)
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
  })

  it('refuses a payment when revocation lands between the 402 and the signature', async () => {
    let revoke = async () => {}
    // Registered before the kill switch's hooks, so it runs first: the revocation happens
    // after the request started, inside the payment step.
    const agent = await startAgent({
      client: (client) => client.onBeforePaymentCreation(() => revoke()),
    })
    revoke = async () => {
      await agent.ks.agents.revoke(agent.handle, { reason: 'operator' })
    }
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(agent.signTypedData).not.toHaveBeenCalled()
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
  })

  it('aborts a request still waiting for its first answer when the agent is revoked: AgentRevokedError, nothing held', async () => {
    let arrived: () => void = () => {}
    const waiting = new Promise<void>((resolve) => {
      arrived = resolve
    })
    // A server slow to answer the unpaid request (before any 402): it answers when aborted.
    const slow: typeof fetch = (input, init) =>
      new Promise((_resolve, reject) => {
        const signal = new Request(input, init).signal
        arrived()
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      })
    const agent = await startAgent({ fetch: { fetch: slow } })
    const paying = agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)
    await waiting
    await agent.ks.agents.revoke(agent.handle)

    const error = await paying
    // Not a bare AbortError: the caller learns why it stopped.
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(agent.signTypedData).not.toHaveBeenCalled()
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
  })

  it('refuses a payee outside allowedPayees', async () => {
    const agent = await startAgent({ fetch: { allowedPayees: [PAYEE] } })
    network.server.route.payTo = '0x000000000000000000000000000000000000dEaD'
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)
    // The core's own refusal, as for any spend: a spend rule is agent policy, not x402's.
    expect(error).toBeInstanceOf(SpendRefusedError)
    expect(error).toMatchObject({
      rule: 'payee_not_allowed',
      source: 'call',
      payee: network.server.route.payTo,
    })
    expect(agent.signTypedData).not.toHaveBeenCalled()
    // The core refused it and wrote the denial: nothing was held.
    const denied = (await agent.audit()).find((entry) => entry.type === 'denied')
    expect(denied?.data).toMatchObject({
      rule: 'spend_rule',
      code: 'spend_refused',
      payee: network.server.route.payTo,
      amount: 0.01,
      resource: `${network.server.url}/search`,
    })
  })

  it('allows a listed payee whatever the casing of its address', async () => {
    const agent = await startAgent({ fetch: { allowedPayees: [PAYEE.toLowerCase()] } })
    const response = await agent.pay(`${network.server.url}/search?q=1`)
    expect(response.status).toBe(200)
  })

  it('refuses an asset it cannot price, even with x402 spend controls off', async () => {
    const token = '0x1111111111111111111111111111111111111111'
    const agent = await startAgent({ client: (client) => client.setSpendControls(false) })
    network.server.route.price = { asset: token, amount: '1', extra: { name: 'X', version: '1' } }
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PaymentRefusedError)
    expect(error).toMatchObject({ rule: 'unknown_asset', payee: PAYEE })
    expect(agent.signTypedData).not.toHaveBeenCalled()
  })

  it('refuses a payment made through the guarded client outside killSwitchFetch', async () => {
    const { wrapFetchWithPayment } = await import('@x402/fetch')
    const agent = await startAgent()
    const unguarded = wrapFetchWithPayment(fetch, agent.client)
    await expect(unguarded(`${network.server.url}/search?q=1`)).rejects.toThrow(/killSwitchFetch/)
    expect(agent.signTypedData).not.toHaveBeenCalled()
  })

  it('refuses to send a payment header it did not authorise', async () => {
    const agent = await startAgent()
    const served = network.server.served
    const error = await agent
      .pay(`${network.server.url}/search?q=1`, { headers: { 'PAYMENT-SIGNATURE': 'e30=' } })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ rule: 'unaccounted_payment' })
    expect(network.server.served).toBe(served)
  })
})

describe("killSwitchFetch: the agent's spend rules, decided in the core", () => {
  const stranger = '0x000000000000000000000000000000000000dEaD'
  const holds = async (agent: Awaited<ReturnType<typeof startAgent>>) =>
    (await agent.audit()).filter((entry) => entry.type === 'hold')

  it('refuses a payee outside the agent allowedPayees, with no option on the fetch', async () => {
    const agent = await startAgent({ spendRules: { allowedPayees: [PAYEE] } })
    network.server.route.payTo = stranger
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(SpendRefusedError)
    expect(error).toMatchObject({ rule: 'payee_not_allowed', source: 'agent', payee: stranger })
    expect(error).toMatchObject({ code: 'spend_refused' })
    expect(agent.signTypedData).not.toHaveBeenCalled()
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await holds(agent)).toEqual([])
    const denied = (await agent.audit()).find((entry) => entry.type === 'denied')
    expect(denied?.data).toMatchObject({ code: 'spend_refused', payee: stranger, amount: 0.01 })
    // The listed payee is still paid.
    network.server.route.payTo = PAYEE
    expect((await agent.pay(`${network.server.url}/search?q=2`)).status).toBe(200)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
  })

  it.each([
    [
      "the fetch's maxPaymentUsd",
      { fetch: { maxPaymentUsd: 0.05 } },
      'call',
      "killSwitchFetch's options maxPaymentUsd",
    ],
    [
      "the agent's maxSpendUsd, with no option on the fetch",
      { spendRules: { maxSpendUsd: 0.05 } },
      'agent',
      "the agent's spendRules maxSpendUsd",
    ],
  ] as const)('refuses a payment above %s', async (_, options, source, named) => {
    const agent = await startAgent(options)
    network.server.route.price = '$0.06'
    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(SpendRefusedError)
    expect(error).toMatchObject({ rule: 'max_spend_exceeded', source, amountUsd: 0.06 })
    // The message names the option the reader set, to change it.
    expect((error as Error).message).toContain(`more than ${named} ($0.05)`)
    expect(agent.signTypedData).not.toHaveBeenCalled()
    expect(await agent.get()).toMatchObject({ spent: 0, held: 0 })
    expect(await holds(agent)).toEqual([])
  })

  it('checks the agent rules and the fetch options together: the tighter wins', async () => {
    const agent = await startAgent({
      spendRules: { maxSpendUsd: 0.1 },
      fetch: { maxPaymentUsd: 0.05 },
    })
    network.server.route.price = '$0.06'
    await expect(agent.pay(`${network.server.url}/search?q=1`)).rejects.toMatchObject({
      rule: 'max_spend_exceeded',
      source: 'call',
    })
    network.server.route.price = '$0.02'
    expect((await agent.pay(`${network.server.url}/search?q=2`)).status).toBe(200)
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
  })

  it('applies rules the operator sets after the fetch was made', async () => {
    const agent = await startAgent()
    expect((await agent.pay(`${network.server.url}/search?q=1`)).status).toBe(200)
    await agent.ks.agents.update(agent.handle, { spendRules: { allowedPayees: [stranger] } })

    await expect(agent.pay(`${network.server.url}/search?q=2`)).rejects.toMatchObject({
      rule: 'payee_not_allowed',
      source: 'agent',
    })
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    expect(await agent.get()).toMatchObject({ spent: 0.01, held: 0 })
  })
})

describe('killSwitchFetch: options', () => {
  it('takes a ready guard and puts payments in the run budget of its scope', async () => {
    const agent = await startAgent()
    const pay = killSwitchFetch({
      guard: agent.ks.guard(agent.credential),
      client: agent.client,
      runId: 'run-1',
      runCap: 0.02,
    })
    await pay(`${network.server.url}/search?q=1`)
    await pay(`${network.server.url}/search?q=2`)
    await expect(pay(`${network.server.url}/search?q=3`)).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
    expect(agent.signTypedData).toHaveBeenCalledTimes(2)
    const holds = (await agent.audit()).filter((entry) => entry.type === 'hold')
    expect(holds.map((entry) => entry.data.runId)).toEqual(['run-1', 'run-1'])
  })

  it('refuses bad options with InvalidConfigError naming the field', async () => {
    const agent = await startAgent()
    const base = { killSwitch: agent.ks, credential: agent.credential, client: agent.client }
    const field = (options: object) => {
      try {
        killSwitchFetch({ ...base, ...options } as never)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidConfigError)
        return (error as InvalidConfigError & { field: string }).field
      }
      return 'accepted'
    }
    expect(field({ maxPaymentUsd: -1 })).toBe('maxPaymentUsd')
    expect(field({ maxPaymentUsd: Number.NaN })).toBe('maxPaymentUsd')
    expect(field({ allowedPayees: '0xabc' })).toBe('allowedPayees')
    expect(field({ allowedPayees: [''] })).toBe('allowedPayees.0')
    expect(field({ verifySettlement: 'yes' })).toBe('verifySettlement')
    expect(field({ assets: [{ network: 'eip155:8453', asset: '0x1', decimals: 6.5 }] })).toBe(
      'assets.0',
    )
    expect(field({ client: {} })).toBe('client')
    expect(field({ credential: '' })).toBe('credential')
    expect(field({ guard: agent.ks.guard(agent.credential) })).toBe('guard')
    expect(field({ client: new x402Client(), maxPaymentUsd: 0 })).toBe('accepted')
    // Shapes that used to pass creation and then fail every payment, or throw a TypeError.
    expect(field({ maxPaymentUsd: 1e300 })).toBe('maxPaymentUsd')
    expect(field({ maxPaymentUsd: [0.5] })).toBe('maxPaymentUsd')
    expect(field({ allowedPayees: Array(1_001).fill(PAYEE) })).toBe('allowedPayees')
    expect(field({ allowedPayees: ['x'.repeat(257)] })).toBe('allowedPayees.0')
    expect(field({ allowedPayees: [PAYEE, undefined] })).toBe('allowedPayees.1')
    expect(field({ assets: 'x' })).toBe('assets')
    expect(field({ assets: null })).toBe('assets')
    expect(field({ fetch: 'x' })).toBe('fetch')
    // A misspelt option is refused, never ignored (a per-payment maximum silently missing).
    expect(field({ maxPaymentUSD: 0.01 })).toBe('maxPaymentUSD')
    expect(field({ toolPrices: { search: 1 } })).toBe('toolPrices')
    // The budget scope is checked when built, as each payment would check it.
    expect(field({ runId: 'r1', runCap: -1 })).toBe('runCap')
    expect(field({ budgets: 'team' })).toBe('budgets')
  })

  it('says in the message what was given, bounded', async () => {
    const agent = await startAgent()
    const base = { killSwitch: agent.ks, credential: agent.credential, client: agent.client }
    const message = (options: object) => {
      try {
        killSwitchFetch({ ...base, ...options } as never)
      } catch (error) {
        return (error as Error).message
      }
      return 'accepted'
    }
    expect(message({ maxPaymentUsd: [0.5] })).toContain('(got a list of 1)')
    expect(message({ maxPaymentUSD: 0.01 })).toContain('did you mean maxPaymentUsd?')
    expect(message({ maxPaymentUsd: '0.5' })).toContain('(got "0.5")')
    expect(message({ fetch: 'x' })).toBe('fetch must be a fetch function (got "x").')
    const long = message({ allowedPayees: [PAYEE, 'x'.repeat(5_000)] })
    expect(long).toContain('allowedPayees.1')
    expect(long.length).toBeLessThan(300)
  })

  it('accepts exactly the spend rules the core accepts for an agent', async () => {
    const agent = await startAgent()
    const base = { killSwitch: agent.ks, credential: agent.credential, client: agent.client }
    const cases: Array<{ allowedPayees?: unknown; maxPaymentUsd?: unknown }> = [
      { maxPaymentUsd: 0 },
      { maxPaymentUsd: 1e9 },
      { maxPaymentUsd: 1e9 + 1 },
      { maxPaymentUsd: 1e300 },
      { allowedPayees: [] },
      { allowedPayees: Array(1_000).fill(PAYEE) },
      { allowedPayees: Array(1_001).fill(PAYEE) },
      { allowedPayees: ['x'.repeat(256)] },
      { allowedPayees: ['x'.repeat(257)] },
    ]
    for (const [index, { allowedPayees, maxPaymentUsd }] of cases.entries()) {
      const fetchAccepts = (() => {
        try {
          killSwitchFetch({ ...base, allowedPayees, maxPaymentUsd } as never)
          return true
        } catch {
          return false
        }
      })()
      const spendRules = {
        ...(allowedPayees === undefined ? {} : { allowedPayees }),
        ...(maxPaymentUsd === undefined ? {} : { maxSpendUsd: maxPaymentUsd }),
      }
      const coreAccepts = await agent.ks.agents
        .create({ handle: `rules-${index}`, spendingCap: 1, spendRules } as never)
        .then(
          () => true,
          () => false,
        )
      expect({ index, fetchAccepts }).toEqual({ index, fetchAccepts: coreAccepts })
    }
  })
})
