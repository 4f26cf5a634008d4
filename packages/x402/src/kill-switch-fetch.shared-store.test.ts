// Payments on a sqlite file other processes share: a revocation one of them made stops a
// payment signed here before it is sent (this process hears of it only at its next poll),
// and a store busy at settle time does not take the paid answer from the caller.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { AgentRevokedError, createKillSwitch, sqliteStore } from '@killswitch/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startAgent, useNetwork } from './testing/x402-fixture.js'

const started = useNetwork()
let dir: string
let path: string
const closing: Array<() => Promise<void>> = []
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'killswitch-x402-'))
  path = join(dir, 'state.db')
})
afterEach(async () => {
  for (const close of closing.splice(0)) await close()
  rmSync(dir, { recursive: true, force: true })
})

/** An agent paying from this process, whose kill switch is on the shared file. */
async function payer(store: ReturnType<typeof sqliteStore>) {
  const agent = await startAgent({ killSwitch: { store } })
  closing.push(() => agent.ks.close())
  return agent
}

describe('a revocation another process made', () => {
  it('stops a payment signed here before it is sent: its hold released, the payee paid nothing', async () => {
    // This process polls for other processes' revocations: not once during this test.
    const network = started()
    const agent = await payer(sqliteStore(path, { pollIntervalMs: 60_000 }))
    const other = createKillSwitch({ store: sqliteStore(path) })
    closing.push(() => other.close())
    // The other process revokes while this one signs, and its revoke returns first.
    const sign = agent.account.signTypedData
    agent.signTypedData.mockImplementation(async (typedData) => {
      await other.agents.revoke(agent.handle, { reason: 'runaway spend' })
      return sign(typedData)
    })
    const [served, transfers] = [network.server.served, network.facilitator.transfers.length]

    const error = await agent.pay(`${network.server.url}/search?q=1`).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(agent.signTypedData).toHaveBeenCalledTimes(1)
    // Nothing reached the payee, and nothing moved on chain.
    expect(network.server.served).toBe(served)
    expect(network.facilitator.transfers).toHaveLength(transfers)
    expect(await agent.get()).toMatchObject({ status: 'revoked', spent: 0, held: 0 })
    const released = (await agent.audit()).filter((entry) => entry.type === 'released')
    expect(released.map((entry) => entry.data)).toEqual([
      expect.objectContaining({ paymentOutcome: 'not_sent', reason: 'not_sent' }),
    ])
    expect(released[0]?.summary).toMatch(
      /^released hold of \$0\.01 to 0x\w+ for GET .*: not sent \(/,
    )
  })
})

describe('a store busy when a paid answer is settled', () => {
  it('returns the paid answer; the ledger catches up to the amount paid, once', async () => {
    const network = started()
    const agent = await payer(sqliteStore(path, { busyTimeoutMs: 100 }))
    // Another process (a CLI command, a worker) holds the write lock while the payee answers.
    network.server.route.beforeServe = async () => {
      const db = new DatabaseSync(path)
      db.exec('BEGIN EXCLUSIVE')
      setTimeout(() => {
        db.exec('COMMIT')
        db.close()
      }, 600)
    }
    const [served, transfers] = [network.server.served, network.facilitator.transfers.length]

    const response = await agent.pay(`${network.server.url}/search?q=paid`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ query: 'paid' })
    expect(network.server.served).toBe(served + 1)
    expect(network.facilitator.transfers).toHaveLength(transfers + 1)

    // The outbox settles it once the lock is gone: exactly what was paid.
    await expect.poll(() => agent.get(), { timeout: 5_000 }).toMatchObject({ spent: 0.01, held: 0 })
    const settled = (await agent.audit()).filter((entry) => entry.type === 'settled')
    expect(settled.map((entry) => entry.data)).toEqual([
      expect.objectContaining({ paymentOutcome: 'settled', chargedAtomic: '10000' }),
    ])
  })
})
