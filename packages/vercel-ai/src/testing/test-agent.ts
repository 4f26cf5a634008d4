// Test support: a kill switch (memory store) with one agent, and its ledger in micro-dollars
// so that the tests compare integers, not floats. Not exported.
import {
  createKillSwitch,
  type KillSwitch,
  type KillSwitchOptions,
  toMicros,
} from '@killswitch/core'
import { MOCK_MODEL_ID, MOCK_PRICE } from './scripted-model.js'

export interface TestAgent {
  ks: KillSwitch
  handle: string
  credential: string
  /** The agent's ledger now, in micro-dollars. */
  ledger(): Promise<{ spent: number; held: number; cap: number }>
  revoke(reason?: string): Promise<void>
  /** Resolves at the next settlement or release of a hold. */
  nextSettlement(): Promise<'settled' | 'released'>
}

export async function testAgent(
  spendingCap: number,
  options: KillSwitchOptions = {},
): Promise<TestAgent> {
  const ks = createKillSwitch({ prices: { [MOCK_MODEL_ID]: MOCK_PRICE }, ...options })
  const handle = 'test-agent'
  const { credential } = await ks.agents.create({ handle, spendingCap })
  return {
    ks,
    handle,
    credential,
    async ledger() {
      const agent = await ks.agents.get(handle)
      return {
        spent: toMicros(agent.spent),
        held: toMicros(agent.held),
        cap: toMicros(agent.spendingCap),
      }
    },
    async revoke(reason = 'test revocation') {
      await ks.agents.revoke(handle, { reason })
    },
    nextSettlement() {
      return new Promise((resolve) => {
        const offs = [
          ks.on('settled', () => done('settled')),
          ks.on('released', () => done('released')),
        ]
        const done = (how: 'settled' | 'released') => {
          for (const off of offs) off()
          resolve(how)
        }
      })
    },
  }
}
