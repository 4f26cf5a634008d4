// A revocation the store wrote on its primary, where every process reads it, that no replica
// confirmed yet (Redis with replicas, red team rt27): in force now, so the caller is told
// that, not "not written"; alerted once, now; retried until a replica has it; and close()
// says the same truth if none ever does.
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AlertDispatcher } from './alerting.js'
import { RevocationUnreplicatedError, StoreUnavailableError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import type { Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'

afterEach(() => {
  vi.useRealTimers()
})

/** A store whose revocations reach the primary at once and a replica only when `replica.up`. */
function replicatedStore() {
  const store = memoryStore()
  const replica = { up: false, attempts: 0 }
  const revokeAgent = store.revokeAgent.bind(store)
  store.revokeAgent = async (...args: Parameters<Store['revokeAgent']>) => {
    replica.attempts++
    const written = await revokeAgent(...args)
    if (replica.up) return written
    throw new RevocationUnreplicatedError({
      handle: args[0],
      alreadyRevoked: written.alreadyRevoked,
      message: 'Redis at test: no replica acknowledged it within 300 ms',
    })
  }
  return { store, replica }
}

function alerts() {
  const sent: string[] = []
  const dispatcher: AlertDispatcher = {
    dispatch: (event) => void sent.push(event.type),
    flush: async () => {},
    close: async () => {},
  }
  return { sent, dispatcher }
}

describe('a revocation no replica confirmed', () => {
  it('is said in force now (not "not written"), alerted once, and retried until a replica has it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { store, replica } = replicatedStore()
    const { sent, dispatcher } = alerts()
    const ks = createKillSwitch({ store, alerts: dispatcher })
    const other = createKillSwitch({ store }) // another process on the same primary
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 5 })
    await ks.agents.setAlert('a', { thresholdPct: 0.5, webhookUrl: 'https://example.com/hook' })

    const error = await ks.agents.revoke('a', { reason: 'loop' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RevocationUnreplicatedError)
    // Generic handling still fails closed: it is a StoreUnavailableError, with its own code.
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect(error).toMatchObject({ code: 'revocation_unreplicated', handle: 'a', status: 503 })
    expect((error as RevocationUnreplicatedError).alreadyRevoked).toBe(false)
    const message = (error as Error).message
    expect(message).toContain('is in force now: this and every other process refuse its credential')
    expect(message).toContain('a failover now could undo it')
    expect(message).not.toMatch(/not written|stayed out|still accept/)
    expect(String((error as Error).cause)).toContain('no replica acknowledged it within 300 ms')
    // In force: every process refuses the credential, and on-call hears of it now, once.
    expect(await other.verify(credential)).toEqual({ active: false })
    expect(await ks.verify(credential)).toEqual({ active: false })
    await vi.advanceTimersByTimeAsync(1_000)
    expect(replica.attempts).toBeGreaterThan(3)
    expect(sent).toEqual(['revoked'])

    replica.up = true
    const closed = ks.close()
    await vi.advanceTimersByTimeAsync(500)
    await expect(closed).resolves.toBeUndefined()
    expect(sent).toEqual(['revoked'])
    const entries = (await other.audit('a')).filter((entry) => entry.type === 'revoked')
    expect(entries).toHaveLength(1)
  })

  it('close() says it is in force but unconfirmed, naming the agent, when no replica ever has it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { store } = replicatedStore()
    const errors: unknown[] = []
    const ks = createKillSwitch({ store, onError: (error) => errors.push(error) })
    await ks.agents.create({ handle: 'a', spendingCap: 5 })
    await ks.agents.revoke('a').catch(() => {})
    const closed = ks.close().catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(11_000)
    const error = await closed
    expect(error).toBeInstanceOf(RevocationUnreplicatedError)
    expect(error).toMatchObject({ code: 'revocation_unreplicated', handle: 'a' })
    const message = (error as Error).message
    expect(message).toContain(
      'The revocation of agent "a" is in force now (every process refuses the credential), but no replica confirmed it before this kill switch closed: a failover before one does could undo it',
    )
    expect(message).not.toMatch(/NOT written|stayed out|still accept/)
    expect(errors).toContain(error)
  })

  it('close() keeps "NOT written" for a store that was out, and names an unconfirmed one apart', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { store } = replicatedStore()
    const ks = createKillSwitch({ store, onError: () => {} })
    await ks.agents.create({ handle: 'out', spendingCap: 5 })
    await ks.agents.create({ handle: 'alone', spendingCap: 5 })
    await ks.agents.revoke('alone').catch(() => {})
    const revokeAgent = store.revokeAgent
    store.revokeAgent = (...args) => {
      if (args[0] === 'out') throw new Error('ECONNREFUSED')
      return revokeAgent(...args)
    }
    await ks.agents.revoke('out').catch(() => {})
    const closed = ks.close().catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(11_000)
    const error = await closed
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect(error).not.toBeInstanceOf(RevocationUnreplicatedError)
    const message = (error as Error).message
    expect(message).toContain('The revocation of agent "out" was NOT written')
    expect(message).toContain('The revocation of agent "alone" is in force now')
  })
})
