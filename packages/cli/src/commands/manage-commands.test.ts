// The revoke command's wait for a store that is out: bounded by its deadline, even when the
// store holds every read up (a lock, a stopped Redis): "up to 10 s" once took 25.
import type { KillSwitch } from '@killswitch/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { revokedWithin } from './manage-commands.js'

afterEach(() => {
  vi.useRealTimers()
})

type Agents = Pick<KillSwitch, 'agents'>

describe('revokedWithin', () => {
  it('gives up at its deadline when the store never answers a read', async () => {
    vi.useFakeTimers()
    const ks = { agents: { get: () => new Promise(() => {}) } } as unknown as Agents
    let answer: boolean | undefined
    void revokedWithin(ks, 'a', 10_000).then((value) => {
      answer = value
    })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(answer).toBe(false)
  })

  it('answers as soon as the store reports the agent revoked', async () => {
    vi.useFakeTimers()
    let reads = 0
    const get = async () => ({ status: ++reads < 3 ? 'active' : 'revoked' })
    const ks = { agents: { get } } as unknown as Agents
    let answer: boolean | undefined
    void revokedWithin(ks, 'a', 10_000).then((value) => {
      answer = value
    })
    await vi.advanceTimersByTimeAsync(750)
    expect(answer).toBe(true)
    expect(reads).toBe(3)
  })
})
