// `agents create` shows the credential as soon as the store has the agent: a close that
// fails after it (an audit flush timing out) must not leave an agent made and its
// credential, shown only once, never shown (red team rt41b).
import { createKillSwitch, memoryStore, StoreUnavailableError } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../exit-codes.js'
import { runCli } from '../run-cli.js'
import { buffer } from '../test-helpers.js'

describe('killswitch agents create', () => {
  it('prints the credential before a close that fails', async () => {
    const ks = createKillSwitch({ store: memoryStore() })
    const stdout = buffer()
    const stderr = buffer()
    const code = await runCli(['agents', 'create', 'bot', '--cap', '5'], {
      stdout,
      stderr,
      env: {},
      cwd: '/nonexistent',
      openKillSwitch: async () => ({
        killSwitch: ks,
        close: async () => {
          throw new StoreUnavailableError('could not write the audit log (Command timed out)')
        },
      }),
    })

    expect(code).toBe(EXIT_CODES.storeUnavailable)
    const credential = /ks_[A-Za-z0-9_-]+/.exec(stdout.text())?.[0]
    expect(credential).toBeDefined()
    expect(await ks.verify(credential as string)).toMatchObject({ active: true })
    expect(stderr.text()).toMatch(/audit log/)
  })
})
