// A signed payment's hold, end to end on a real kill switch: refused (revocation first),
// released when it never left, charged at what the payee can collect once it did.
import { describe, expect, it, vi } from 'vitest'
import { AgentRevokedError, SpendRefusedError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import {
  holdPayment,
  paymentRefusal,
  releaseUnsentPayments,
  settleSentPayment,
} from './payment-holds.js'

const PAYEE = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
const spend = { kind: 'payment', description: 'GET https://api.example.com/search', payee: PAYEE }

async function setup() {
  const ks = createKillSwitch({ runaway: false })
  const { credential } = await ks.agents.create({ handle: 'buyer', spendingCap: 1 })
  return { ks, guard: ks.guard(credential) }
}

describe('holdPayment and paymentRefusal', () => {
  it('holds the payment a minute past its validity', async () => {
    const { ks, guard } = await setup()
    const reserve = vi.spyOn(guard, 'reserveSpend')
    await holdPayment(guard, { ...spend, amountUsd: 0.01 }, 300)
    expect(reserve).toHaveBeenCalledWith({ ...spend, amountUsd: 0.01, ttlMs: 360_000 })
    expect(await ks.agents.get('buyer')).toMatchObject({ held: 0.01 })
    await ks.close()
  })

  it('audits a refusal found before as denied and throws it; a revoked agent first', async () => {
    const { ks, guard } = await setup()
    const refusal = new SpendRefusedError({
      rule: 'payee_not_allowed',
      source: 'call',
      amountUsd: 0,
      message: 'Spend refused: not an allowed payee.',
    })
    expect(await paymentRefusal(guard, { ...spend, amountUsd: 0 }, refusal)).toBe(refusal)
    const denied = (await ks.audit('buyer')).at(-1)
    expect(denied).toMatchObject({ type: 'denied', data: { payee: PAYEE } })
    await ks.agents.revoke('buyer')
    const error = await paymentRefusal(guard, { ...spend, amountUsd: 0 }, refusal).catch(
      (reason: unknown) => reason,
    )
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(await ks.agents.get('buyer')).toMatchObject({ held: 0, spent: 0 })
    await ks.close()
  })
})

describe('releaseUnsentPayments', () => {
  it('releases each hold, recording the failure masked and bounded', async () => {
    const { ks, guard } = await setup()
    const tickets = [
      await holdPayment(guard, { ...spend, amountUsd: 0.01 }, 300),
      await holdPayment(guard, { ...spend, amountUsd: 0.02 }, 300),
    ]
    const failure = new Error(`rpc https://rpc.example/?key=s3cr3t failed\n${'x'.repeat(500)}`)
    await releaseUnsentPayments(guard, tickets, failure)
    expect(await ks.agents.get('buyer')).toMatchObject({ held: 0, spent: 0 })
    const released = (await ks.audit('buyer')).filter((entry) => entry.type === 'released')
    expect(released).toHaveLength(2)
    const error = String(released[0]?.data.error)
    expect(released[0]?.data).toMatchObject({ paymentOutcome: 'not_sent' })
    expect(error).not.toContain('s3cr3t')
    expect(error).not.toContain('\n')
    expect(error).toHaveLength(200)
    await ks.close()
  })
})

describe('settleSentPayment', () => {
  it('charges what the payee can collect, in dollars of its token, and until when', async () => {
    const { ks, guard } = await setup()
    const ticket = await holdPayment(guard, { ...spend, amountUsd: 0.05 }, 300)
    const validUntil = Date.UTC(2030, 0, 1)
    const payment = { scheme: 'upto', network: 'eip155:8453', atomic: 50_000n, decimals: 6 }
    const outcome = { reason: 'settled', status: 200 } as const
    await settleSentPayment(guard, ticket, { ...payment, validUntil }, outcome, () => 20_000n)
    expect(await ks.agents.get('buyer')).toMatchObject({ held: 0, spent: 0.02 })
    const settled = (await ks.audit('buyer')).at(-1)
    expect(settled?.data).toMatchObject({
      paymentOutcome: 'settled',
      basis: 'verified',
      chargedAtomic: '20000',
      validUntil: '2030-01-01T00:00:00.000Z',
    })
    await ks.close()
  })
})
