import { describe, expect, it } from 'vitest'
import { AgentRevokedError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { runToolCallStream } from './tool-stream.js'

async function agent() {
  const ks = createKillSwitch({ runaway: false, toolPrices: { search: 0.25 } })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
  return { ks, guard: ks.guard(credential) }
}

async function* parts(count: number, fail?: Error) {
  for (let part = 1; part <= count; part++) yield part
  if (fail) throw fail
}

describe('runToolCallStream', () => {
  it('holds the price before the tool runs and charges it once the parts are read', async () => {
    const { ks, guard } = await agent()
    let ran = false
    const stream = runToolCallStream(guard, { name: 'search', args: {} }, () => {
      ran = true
      return parts(3)
    })
    expect(ran).toBe(false) // nothing runs before the first part is asked for
    const read: number[] = []
    for await (const part of stream) {
      read.push(part)
      expect(await ks.agents.get('a')).toMatchObject({ held: 0.25, spent: 0 })
    }
    expect(read).toEqual([1, 2, 3])
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0.25 })
  })

  it('charges a tool that threw (rethrown) and one its consumer left early: both ran', async () => {
    const { ks, guard } = await agent()
    const failed = runToolCallStream(guard, { name: 'search', args: {} }, () =>
      parts(1, new Error('api down')),
    )
    await expect(async () => {
      for await (const _ of failed);
    }).rejects.toThrow('api down')
    for await (const _ of runToolCallStream(guard, { name: 'search', args: {} }, () => parts(5))) {
      break
    }
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0.5 })
  })

  it('refuses a revoked agent before the tool runs, and passes no part on after revocation', async () => {
    const { ks, guard } = await agent()
    const read: number[] = []
    const stream = runToolCallStream(guard, { name: 'search', args: {} }, () => parts(3))
    await expect(async () => {
      for await (const part of stream) {
        read.push(part)
        await ks.agents.revoke('a', { reason: 'test' })
      }
    }).rejects.toBeInstanceOf(AgentRevokedError)
    expect(read).toEqual([1])
    let ran = false
    const refused = runToolCallStream(guard, { name: 'search', args: {} }, () => {
      ran = true
      return parts(1)
    })
    await expect(refused.next()).rejects.toBeInstanceOf(AgentRevokedError)
    expect(ran).toBe(false)
  })
})
