// A signed payment's hold, end to end on a real kill switch: refused (revocation first),
// released when it never left, charged at what the payee can collect once it did.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import {
  AgentRevokedError,
  InvalidConfigError,
  SpendRefusedError,
  StoreUnavailableError,
} from '../errors.js'
import type { SpendTicket } from '../guard-types.js'
import { createKillSwitch } from '../kill-switch.js'
import { sqliteStore } from '../stores/sqlite-store.js'
import {
  confirmPaymentSend,
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

describe('confirmPaymentSend', () => {
  it("refuses a payment after another process's revocation its signal has not heard of", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'killswitch-payments-'))
    const path = join(dir, 'state.db')
    // This process polls for other processes' revocations: not once during this test.
    const ks = createKillSwitch({
      runaway: false,
      store: sqliteStore(path, { pollIntervalMs: 60_000 }),
    })
    const other = createKillSwitch({ store: sqliteStore(path) })
    const { credential } = await ks.agents.create({ handle: 'buyer', spendingCap: 1 })
    const guard = ks.guard(credential)
    const caller = new AbortController()
    await expect(confirmPaymentSend(guard, caller.signal)).resolves.toBeUndefined()

    await other.agents.revoke('buyer', { reason: 'runaway spend' })
    expect(guard.signal.aborted).toBe(false)
    await expect(guard.check()).resolves.toBe('buyer') // the guard's last record
    const error = await confirmPaymentSend(guard, caller.signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(error).toMatchObject({ reason: 'runaway spend' })
    // Heard now, in this process, by every call.
    expect(guard.signal.aborted).toBe(true)
    await ks.close()
    await other.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses a payment whose caller gave up, with its reason', async () => {
    const { ks, guard } = await setup()
    const caller = new AbortController()
    caller.abort(new Error('caller timeout'))
    await expect(confirmPaymentSend(guard, caller.signal)).rejects.toThrow('caller timeout')
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
    // The summary tells the story: how much, to whom, for what, and why it never left.
    expect(released[0]?.summary).toBe(
      `released hold of $0.01 to ${PAYEE} for GET https://api.example.com/search: not sent (${error})`,
    )
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
    expect(settled?.summary).toBe(
      `settled $0.02 to ${PAYEE} for GET https://api.example.com/search: settled by the payee`,
    )
    await ks.close()
  })

  it('says in its summary that an outcome is unknown, why, and until when it is collectable', async () => {
    const { ks, guard } = await setup()
    const ticket = await holdPayment(guard, { ...spend, amountUsd: 0.01 }, 300)
    const payment = { scheme: 'exact', network: 'eip155:8453', atomic: 10_000n, decimals: 6 }
    const validUntil = Date.UTC(2030, 0, 1)
    await settleSentPayment(guard, ticket, { ...payment, validUntil }, { reason: 'no_response' })
    expect(await ks.agents.get('buyer')).toMatchObject({ held: 0, spent: 0.01 })
    expect((await ks.audit('buyer')).at(-1)?.summary).toBe(
      `settled $0.01 to ${PAYEE} for GET https://api.example.com/search: outcome unknown (no response), collectable until 2030-01-01T00:00:00.000Z, unreconciled`,
    )
    await ks.close()
  })

  it('charges an unknown outcome as unreconciled, which the truth corrects once (red team rt29)', async () => {
    const { ks, guard } = await setup()
    const payment = { scheme: 'exact', network: 'eip155:8453', atomic: 10_000n, decimals: 6 }
    const sent = { ...payment, validUntil: Date.UTC(2030, 0, 1) }
    const unknown = await holdPayment(guard, { ...spend, amountUsd: 0.01 }, 300)
    await settleSentPayment(guard, unknown, sent, { reason: 'server_error', status: 500 })
    const known = await holdPayment(guard, { ...spend, amountUsd: 0.01 }, 300)
    await settleSentPayment(guard, known, sent, { reason: 'settled', status: 200 })
    // Charged what the payee can collect either way; only the unknown one is unreconciled.
    expect(await ks.agents.get('buyer')).toMatchObject({ spent: 0.02, unreconciled: 0.01 })
    // The payee never collected (the authorisation expired unused): the operator says so.
    const corrected = await ks.agents.reconcile('buyer', {
      holdId: unknown.id,
      amountUsd: 0,
      note: 'never submitted on chain',
    })
    expect(corrected).toMatchObject({
      outcome: 'corrected',
      agent: { spent: 0.01, unreconciled: 0 },
    })
    // A payment the payee settled is not the operator's to lower.
    expect(await ks.agents.reconcile('buyer', { holdId: known.id, amountUsd: 0 })).toMatchObject({
      outcome: 'duplicate',
      agent: { spent: 0.01 },
    })
    await ks.close()
  })

  it('leaves a settle the store cannot take now to the outbox: the payment left', async () => {
    const payment = { scheme: 'exact', network: 'eip155:8453', atomic: 10_000n, decimals: 6 }
    const sent = { ...payment, validUntil: Date.UTC(2030, 0, 1) }
    const ticket = { id: 'h1', handle: 'buyer', kind: 'payment', amountUsd: 0.01 } as SpendTicket
    const outcome = { reason: 'settled', status: 200 } as const
    const outage = { settleSpend: vi.fn(() => Promise.reject(new StoreUnavailableError('busy'))) }
    await expect(settleSentPayment(outage, ticket, sent, outcome)).resolves.toBeUndefined()
    expect(outage.settleSpend).toHaveBeenCalledWith(
      ticket,
      expect.objectContaining({ amountUsd: 0.01 }),
    )
    // Any other failure is a fault the caller must see.
    const bad = new InvalidConfigError('ticket', 'Unknown ticket')
    const broken = { settleSpend: () => Promise.reject(bad) }
    await expect(settleSentPayment(broken, ticket, sent, outcome)).rejects.toBe(bad)
  })
})
