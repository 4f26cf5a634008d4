// Test helpers: output buffers and a CLI run against a kill switch the test also holds.

import {
  createKillSwitch,
  type KillSwitch,
  type KillSwitchOptions,
  memoryStore,
  RevocationUnreplicatedError,
} from '@killswitch/core'
import type { AdminKillSwitch } from './admin-kill-switch.js'
import type { CliIo } from './cli-context.js'
import { runCli } from './run-cli.js'

export interface Buffer {
  write(chunk: string): boolean
  isTTY: boolean
  text(): string
}

export function buffer(isTTY = false): Buffer {
  let text = ''
  return {
    isTTY,
    write(chunk) {
      text += chunk
      return true
    },
    text: () => text,
  }
}

/**
 * A kill switch over a memory store (with `options`: prices, a clock), and a `run` that
 * executes the CLI against it.
 */
export function cliHarness(
  env: Record<string, string | undefined> = {},
  options: Omit<KillSwitchOptions, 'store'> = {},
) {
  const ks: KillSwitch = createKillSwitch({ ...options, store: memoryStore() })
  const run = async (argv: string[], extra: Partial<CliIo> = {}) => {
    const stdout = buffer()
    const stderr = buffer()
    const code = await runCli(argv, {
      stdout,
      stderr,
      env,
      cwd: '/nonexistent',
      // The test's kill switch, left open across runs (closing is the test's job).
      openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
      ...extra,
    })
    return { code, stdout: stdout.text(), stderr: stderr.text() }
  }
  return { ks, run }
}

/** The kill switch with its revoke replaced: what a store or another process does to one. */
function withRevoke(ks: KillSwitch, revoke: KillSwitch['agents']['revoke']): AdminKillSwitch {
  return { ...ks, agents: { ...ks.agents, revoke } }
}

/**
 * The kill switch with each revoke beaten to the store by another one (reason "first", by
 * "bob"), as a revoke from another process landing just as this one goes out: after any read
 * made before it.
 */
export function revokedJustBefore(ks: KillSwitch): AdminKillSwitch {
  return withRevoke(ks, async (handle, options) => {
    await ks.agents.revoke(handle, { reason: 'first', by: 'bob' })
    return ks.agents.revoke(handle, options)
  })
}

/**
 * The kill switch with each revoke written (in force: every process reads it) but confirmed
 * by no replica of the store, as a Redis whose replica is away answers (red team rt27).
 */
export function revokedUnreplicated(ks: KillSwitch): AdminKillSwitch {
  return withRevoke(ks, async (handle, options) => {
    const { alreadyRevoked } = await ks.agents.revoke(handle, options)
    throw new RevocationUnreplicatedError({ handle, alreadyRevoked })
  })
}
