// The revoke command's wait for a store that is out: bounded by its deadline, even when the
// store holds every read up (a lock, a stopped Redis): "up to 10 s" once took 25.
import {
  AgentNotFoundError,
  createKillSwitch,
  type KillSwitch,
  memoryStore,
  RevocationUnreplicatedError,
  StoreUnavailableError,
} from '@killswitch/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { OpenedKillSwitch } from '../cli-context.js'
import { EXIT_CODES, exitCodeFor } from '../exit-codes.js'
import { runCli } from '../run-cli.js'
import { buffer, cliHarness, revokedUnreplicated } from '../test-helpers.js'
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

  it('throws AgentNotFoundError once the store is back without the agent', async () => {
    vi.useFakeTimers()
    let reads = 0
    const get = async () => {
      if (++reads < 3) throw new StoreUnavailableError('out')
      throw new AgentNotFoundError('ghost')
    }
    const ks = { agents: { get } } as unknown as Agents
    const answer = revokedWithin(ks, 'ghost', 10_000).catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(750)
    expect(await answer).toBeInstanceOf(AgentNotFoundError)
    expect(exitCodeFor(((await answer) as AgentNotFoundError).code)).toBe(EXIT_CODES.notFound)
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

describe('killswitch revoke, when the store takes it only as the CLI closes', () => {
  // A store that refuses the revoke, and a close that drains the kill switch's outbox: it
  // writes the revocation there (`landsAtClose`), as the real one does once a lock is freed.
  async function revokeThroughOutage(landsAtClose: boolean) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const ks = createKillSwitch({ store: memoryStore() })
    await ks.agents.create({ handle: 'agent-o', spendingCap: 5 })
    const refusing = {
      ...ks,
      agents: {
        ...ks.agents,
        revoke: async () => {
          throw new StoreUnavailableError('the store is locked')
        },
      },
    }
    const opened: OpenedKillSwitch = {
      killSwitch: refusing,
      async close(beforeStoreCloses) {
        if (landsAtClose) await ks.agents.revoke('agent-o', { reason: 'outage' })
        await beforeStoreCloses?.()
      },
    }
    const stdout = buffer()
    const stderr = buffer()
    const exit = runCli(['revoke', 'agent-o', '--reason', 'outage'], {
      stdout,
      stderr,
      env: {},
      openKillSwitch: async () => opened,
    })
    await vi.advanceTimersByTimeAsync(11_000)
    const code = await exit
    return { ks, code, stdout: stdout.text(), stderr: stderr.text() }
  }

  it('says Revoked (written at close) and exits 0 when the close wrote it', async () => {
    const { ks, code, stdout, stderr } = await revokeThroughOutage(true)
    expect(stderr).not.toContain('NOT confirmed')
    expect(code).toBe(EXIT_CODES.ok)
    expect(stdout).toMatch(
      /^Revoked agent-o as the CLI closed \(written at close\) \(reason: outage\)/,
    )
    expect(stdout).toContain('reports it revoked since')
    expect((await ks.agents.get('agent-o')).status).toBe('revoked')
  })

  it('keeps the error, exit 5, when the store still reports it active after the close', async () => {
    const { ks, code, stdout, stderr } = await revokeThroughOutage(false)
    expect(code).toBe(EXIT_CODES.storeUnavailable)
    expect(stderr).toMatch(/error: agent-o is NOT confirmed revoked/)
    expect(stdout).not.toContain('Revoked')
    expect((await ks.agents.get('agent-o')).status).toBe('active')
  })
})

describe('handles pasted with surrounding whitespace', () => {
  it('revoke, get and audit act on the agent, never refuse for a space', async () => {
    const { ks, run } = cliHarness()
    await ks.agents.create({ handle: 'researcher-agent-7', spendingCap: 5 })
    const revoked = await run(['revoke', ' researcher-agent-7 ', '--reason', 'pasted'])
    expect(revoked.stderr).toBe('')
    expect(revoked.code).toBe(EXIT_CODES.ok)
    expect(revoked.stdout).toMatch(/^Revoked researcher-agent-7 in/)
    expect((await ks.agents.get('researcher-agent-7')).status).toBe('revoked')
    expect((await run(['agents', 'get', 'researcher-agent-7 '])).code).toBe(EXIT_CODES.ok)
    expect((await run(['audit', '\tresearcher-agent-7'])).stdout).toContain('pasted')
  })
})

describe('unreconciled spend (lapsed holds charged whole) in the text output', () => {
  it('agents get and revoke say how much of the spend it is, agents list marks it', async () => {
    let now = 1_000_000
    // The kill switch's own store, on the same clock: the lapse is seen as time passes.
    const ks = createKillSwitch({ now: () => now, runaway: false })
    await ks.agents.create({ handle: 'agent-c', spendingCap: 5 })
    await ks.agents.create({ handle: 'agent-d', spendingCap: 5 })
    const { credential } = await ks.agents.create({ handle: 'agent-e', spendingCap: 5 })
    const guard = ks.guard(credential)
    // A spend whose outcome never came: charged at its bound once its deadline passes.
    const spend = await guard.reserveSpend({ amountUsd: 0.4133, kind: 'tool', description: 'x' })
    await guard.markSpendUnknown(spend, { holdUntil: now + 1_000, reason: 'crashed' })
    now += 600_000
    expect(await ks.agents.get('agent-e')).toMatchObject({ spent: 0.4133, unreconciled: 0.4133 })
    const { run } = cliHarness()
    const io = { openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }) }
    const note =
      '(of which $0.4133 unreconciled: lapsed holds or outcomes unknown, see killswitch audit agent-e --unreconciled)'
    const got = await run(['agents', 'get', 'agent-e'], io)
    expect(got.stdout).toMatch(/spent\s+\$0\.4133 of \$5\.00 .*\(of which \$0\.4133 unreconciled/)
    expect(got.stdout).toContain(note)
    expect((await run(['agents', 'get', 'agent-c'], io)).stdout).not.toContain('unreconciled')
    const list = (await run(['agents', 'list'], io)).stdout
    expect(list).toMatch(/agent-e\s+active\s+\$0\.4133\* \/ \$5\.00/)
    expect(list).toMatch(/agent-c\s+active\s+\$0\.00 \/ \$5\.00/)
    expect(list).toContain(
      '* part of that spend is unreconciled (lapsed holds or outcomes unknown, charged whole)',
    )
    const revoked = await run(['revoke', 'agent-e'], io)
    expect(revoked.stdout).toContain(`It spent $0.4133 of $5.00 ${note}.`)
    await ks.close()
  })
})

describe('killswitch revoke: who revoked', () => {
  it('records the CLI and the local user in the audit log, as approvals do', async () => {
    for (const [env, by] of [
      [{ USER: 'alice' }, 'cli:alice'],
      [{}, 'cli'],
    ] as const) {
      const { ks, run } = cliHarness(env)
      await ks.agents.create({ handle: 'a', spendingCap: 1 })
      expect((await run(['revoke', 'a', '--reason', 'leaked key'])).code).toBe(EXIT_CODES.ok)
      const revoked = (await ks.audit('a')).filter((entry) => entry.type === 'revoked')
      expect(revoked.map((entry) => entry.data)).toEqual([
        expect.objectContaining({ reason: 'leaked key', by }),
      ])
      await ks.close()
    }
  })
})

describe('killswitch revoke, in force but confirmed by no replica of the store', () => {
  // The kill switch's close drains its outbox, which retries it: a replica confirms it
  // meanwhile (`confirmedAtClose`), or close() fails saying it never did (red team rt27:
  // "Confirmed", then "NOT written", exit 5, for a credential every process refused).
  async function revokeUnreplicated(confirmedAtClose: boolean) {
    const ks = createKillSwitch({ store: memoryStore() })
    const other = createKillSwitch({ store: ks.store }) // another process on the same store
    const { credential } = await ks.agents.create({ handle: 'agent-r', spendingCap: 5 })
    const opened: OpenedKillSwitch = {
      killSwitch: revokedUnreplicated(ks),
      async close(beforeStoreCloses) {
        if (!confirmedAtClose) {
          throw new RevocationUnreplicatedError({
            handle: 'agent-r',
            alreadyRevoked: false,
            message: 'no replica confirmed it before this kill switch closed',
          })
        }
        await beforeStoreCloses?.()
      },
    }
    const stdout = buffer()
    const stderr = buffer()
    const code = await runCli(['revoke', 'agent-r', '--reason', 'leak', '--store', 'memory'], {
      stdout,
      stderr,
      env: {},
      openKillSwitch: async () => opened,
    })
    // In force either way: another process refuses the credential.
    expect(await other.verify(credential)).toEqual({ active: false })
    return { code, stdout: stdout.text(), stderr: stderr.text() }
  }

  it('says one truthful outcome, exit 6, when no replica confirmed it before the CLI closed', async () => {
    const { code, stdout, stderr } = await revokeUnreplicated(false)
    expect(code).toBe(EXIT_CODES.unreplicated)
    // Its own code, not 5 (the store is out): also for the error wherever else it surfaces.
    expect(EXIT_CODES.unreplicated).toBe(6)
    expect(exitCodeFor('revocation_unreplicated')).toBe(6)
    expect(stdout).toMatch(
      /^Revoked agent-r: in force now, every process refuses its credential; no replica confirmed it within \d+ s, so a failover before one does could undo it\. Check with killswitch agents get agent-r --store memory after any failover\.\n$/,
    )
    expect(stderr).toBe(
      "In force now: every process refuses the credential of agent-r. Waiting for the store to confirm it (a replica, or the sqlite ledger's lock; up to about 10 s, as the CLI closes)...\n",
    )
    expect(`${stdout}${stderr}`).not.toMatch(/Confirmed|error|NOT written|not written|stayed out/)
  })

  it('confirms it, exit 0, when a replica confirmed it as the CLI closed', async () => {
    const { code, stdout } = await revokeUnreplicated(true)
    expect(code).toBe(EXIT_CODES.ok)
    expect(stdout).toMatch(
      /^Revoked agent-r and the store confirmed it as the CLI closed \(reason: leak\)\.\nConfirmed: the store/,
    )
  })
})
