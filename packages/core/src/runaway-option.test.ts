// createKillSwitch's `runaway` takes a monitor or false: detector settings given there made
// every guarded call fail as a store failure. They are refused, saying where they go.
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

describe('createKillSwitch runaway option', () => {
  it('refuses detector settings there, naming runaway and where they go', () => {
    for (const runaway of [{ callRate: { tripModelCalls: 3 } }, {}, 'on', 1]) {
      expect(() => createKillSwitch({ runaway: runaway as never })).toThrow(
        expect.objectContaining({ code: 'invalid_config', field: 'runaway' }),
      )
    }
    expect(() => createKillSwitch({ runaway: { callRate: {} } as never })).toThrow(
      /ks\.agents\.create\(\{ handle, spendingCap, runaway/,
    )
  })
})
