// End to end over the default sqlite store: the BUILT binary and guard processes in real
// child processes, sharing one state file in a temporary directory.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CLI_DIR = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(CLI_DIR, 'dist', 'bin.js')
const CORE_DIST = join(CLI_DIR, '..', 'core', 'dist', 'index.js')
const CREDENTIAL = /ks_[A-Za-z0-9_-]{43}/

let cwd: string
beforeAll(() => {
  for (const built of [BIN, CORE_DIST]) {
    if (!existsSync(built)) {
      throw new Error(
        `${built} is missing: child processes run the BUILT packages. Build first: npm run x -- turbo run build --filter=@killswitch/cli (npm test builds for you).`,
      )
    }
  }
  cwd = mkdtempSync(join(tmpdir(), 'killswitch-sqlite-'))
})
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

function collect(child: ChildProcess) {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code) => resolve({ code, stdout, stderr }))
    },
  )
  return { done, stdout: () => stdout }
}

const killswitch = (args: string[]) =>
  collect(spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '' } }))
    .done

/** Runs a module script with the built @killswitch/core, in its own process. */
function script(source: string, env: Record<string, string>) {
  return collect(
    spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: CLI_DIR, // resolves @killswitch/core to the workspace package (its dist)
      env: { PATH: process.env.PATH ?? '', KS_STORE: join(cwd, '.killswitch', 'state.db'), ...env },
    }),
  )
}

async function waitForLine(read: () => string, line: string, done: Promise<unknown>) {
  let exited = false
  void done.then(() => {
    exited = true
  })
  while (!read().split('\n').includes(line)) {
    if (exited) throw new Error(`the process exited before printing "${line}": ${read()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('killswitch over the default sqlite store', () => {
  it('create, list, revoke and audit across separate processes', async () => {
    const created = await killswitch(['agents', 'create', 'researcher-agent-7', '--cap', '50'])
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(CREDENTIAL)
    expect(created.stderr).toMatch(/shown only once/)
    expect(existsSync(join(cwd, '.killswitch', 'state.db'))).toBe(true)

    const list = await killswitch(['agents', 'list'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/researcher-agent-7\s+active\s+\$0\.00 \/ \$50\.00/)

    const duplicate = await killswitch(['agents', 'create', 'researcher-agent-7', '--cap', '5'])
    expect(duplicate.code).toBe(3)
    expect((await killswitch(['agents', 'get', 'nobody'])).code).toBe(2)

    const revoked = await killswitch(['revoke', 'researcher-agent-7', '--reason', 'e2e'])
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toMatch(/Revoked researcher-agent-7 in \d+\.\d ms/)
    expect((await killswitch(['agents', 'list'])).stdout).toMatch(/researcher-agent-7\s+revoked/)

    const audit = await killswitch(['audit', 'researcher-agent-7', '--json'])
    expect(audit.code).toBe(0)
    const types = audit.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line).type)
    expect(types).toEqual(['created', 'revoked'])
    const csv = await killswitch(['audit', 'researcher-agent-7', '--csv'])
    expect(csv.stdout.split('\n')[0]).toBe('at,handle,type,summary,data')
  })

  it('revoke from the CLI makes a guard in another process fail', async () => {
    const created = await killswitch(['agents', 'create', 'guarded-agent', '--cap', '5'])
    const credential = CREDENTIAL.exec(created.stdout)?.[0] ?? ''
    const guardProcess = script(
      `
      import { createKillSwitch, sqliteStore } from '@killswitch/core'
      const store = sqliteStore(process.env.KS_STORE)
      const ks = createKillSwitch({ store })
      const guard = ks.guard(process.env.KS_CREDENTIAL)
      await guard.check()
      const aborted = new Promise((resolve) => guard.signal.addEventListener('abort', () => resolve(guard.signal.reason), { once: true }))
      // Stands in for the provider's open socket: the store's poll timer is unref'd by design.
      const keepAlive = setInterval(() => {}, 1000)
      console.log('ready')
      const reason = await aborted
      clearInterval(keepAlive)
      console.log('aborted:' + reason?.code)
      try { await guard.reserveSpend({ amountUsd: 0.01, kind: 'tool', description: 'after revoke' }); console.log('spend:allowed') }
      catch (error) { console.log('spend:' + error.code) }
      await ks.close()
      await store.close()
      `,
      { KS_CREDENTIAL: credential },
    )
    await waitForLine(guardProcess.stdout, 'ready', guardProcess.done)

    const revoked = await killswitch([
      'revoke',
      'guarded-agent',
      '--reason',
      'from another process',
    ])
    expect(revoked.code).toBe(0)

    const result = await guardProcess.done
    expect(result.stderr).toBe('')
    expect(result.stdout.trim().split('\n')).toEqual([
      'ready',
      'aborted:agent_revoked',
      'spend:agent_revoked',
    ])
    expect(result.code).toBe(0)
  })

  it('a threshold alert fires once across two processes', async () => {
    const created = await killswitch(['agents', 'create', 'alerting-agent', '--cap', '10'])
    const credential = CREDENTIAL.exec(created.stdout)?.[0] ?? ''
    const rule = [
      'alert',
      'alerting-agent',
      '--at',
      '50%',
      '--webhook',
      'https://hooks.example.com/ks',
    ]
    expect((await killswitch(rule)).code).toBe(0)
    // Each process records what its kill switch hands to the alert dispatcher.
    const spend = (amount: string) =>
      script(
        `
        import { createKillSwitch, sqliteStore } from '@killswitch/core'
        const store = sqliteStore(process.env.KS_STORE)
        const alerts = { dispatch: (event) => console.log('alert: ' + event.type), flush: async () => {}, close: async () => {} }
        const ks = createKillSwitch({ store, alerts })
        const guard = ks.guard(process.env.KS_CREDENTIAL)
        const ticket = await guard.reserveSpend({ amountUsd: Number(process.env.AMOUNT), kind: 'tool', description: 'e2e' })
        await guard.settleSpend(ticket)
        await ks.close()
        await store.close()
        `,
        { KS_CREDENTIAL: credential, AMOUNT: amount },
      ).done
    // Both processes see spend past 50% of the cap after their settlement; one alert in all.
    const first = await spend('6')
    const second = await spend('1')
    expect(first.code, first.stderr).toBe(0)
    expect(second.code, second.stderr).toBe(0)
    const fired = (first.stdout + second.stdout)
      .split('\n')
      .filter((line) => line.startsWith('alert: '))
    expect(fired).toEqual(['alert: threshold'])

    const audit = await killswitch(['audit', 'alerting-agent', '--json'])
    const entries = audit.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(entries.filter((entry) => entry.type === 'alert')).toHaveLength(1)
  })

  it('revoke while another process holds the write lock past its timeout: in force, then confirmed', async () => {
    expect((await killswitch(['agents', 'create', 'locked-agent', '--cap', '5'])).code).toBe(0)
    // Another process holds the write lock for 7 s (past the store's 5 s wait), as one frozen
    // inside a transaction would: the revocation is in force without it (sqlite-revocations.ts),
    // and said to be; the ledger records it once the lock frees, as the CLI closes.
    const locker = collect(
      spawn(
        process.execPath,
        [
          '-e',
          `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.env.KS_STORE); db.exec('BEGIN IMMEDIATE'); console.log('locked'); setTimeout(() => db.exec('COMMIT'), 7000)`,
        ],
        { env: { PATH: process.env.PATH ?? '', KS_STORE: join(cwd, '.killswitch', 'state.db') } },
      ),
    )
    await waitForLine(locker.stdout, 'locked', locker.done)

    const revoked = await killswitch(['revoke', 'locked-agent', '--reason', 'while locked'])

    expect(revoked.stderr).toContain('In force now: every process refuses the credential')
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toMatch(
      /Revoked locked-agent and the store confirmed it as the CLI closed/,
    )
    await locker.done
    expect((await killswitch(['agents', 'get', 'locked-agent'])).stdout).toMatch(/revoked/)
  }, 30_000)

  // With an alert too (red team rt39): its audit entries could not be flushed, and that error
  // hid the revocation in force (exit 5, "fail closed").
  it.each([
    ['frozen-agent', false],
    ['frozen-alerted', true],
  ])(
    'revoke of %s while the ledger stays locked past the CLI: exit 6, naming the ledger, not a replica (red teams rt33, rt39)',
    async (handle, alerted) => {
      expect((await killswitch(['agents', 'create', handle, '--cap', '5'])).code).toBe(0)
      if (alerted) {
        const hook = ['--webhook', 'http://127.0.0.1:9/hook', '--allow-private-webhooks']
        expect((await killswitch(['alert', handle, '--at', '0.8', ...hook])).code).toBe(0)
      }
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.env.KS_STORE); db.exec('BEGIN IMMEDIATE'); console.log('locked'); setTimeout(() => {}, 60000)`,
        ],
        { env: { PATH: process.env.PATH ?? '', KS_STORE: join(cwd, '.killswitch', 'state.db') } },
      )
      const locker = collect(child)
      try {
        await waitForLine(locker.stdout, 'locked', locker.done)
        const revoked = await killswitch(['revoke', handle, '--reason', 'frozen'])
        expect(revoked.code).toBe(6)
        // Before: "no replica confirmed it ... a failover before one does could undo it".
        expect(revoked.stdout).toMatch(
          new RegExp(
            `^Revoked ${handle}: in force now, every process refuses its credential; the sqlite ledger's lock stayed held for \\d+ s .* processes of an earlier release, which read only the ledger, still accept the credential`,
          ),
        )
        expect(revoked.stdout).not.toMatch(/replica|failover/)
      } finally {
        child.kill('SIGKILL')
        await locker.done
      }
      expect((await killswitch(['agents', 'get', handle])).stdout).toMatch(/revoked/)
    },
    60_000,
  )

  it('refuses a path under /proc as a bad store at once (it used to spin at 100% and ignore SIGTERM)', async () => {
    const child = spawn(
      process.execPath,
      [BIN, '--store', 'sqlite:/proc/killswitch-e2e/state/state.db', 'agents', 'list'],
      { cwd, env: { PATH: process.env.PATH ?? '' } },
    )
    // A spinning process is killed (SIGKILL: it ignored SIGTERM) and fails the test.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const { code, stderr } = await collect(child).done
    clearTimeout(deadline)
    expect(code).toBe(1)
    expect(stderr).toContain('Invalid store sqlite:/proc/killswitch-e2e/state/state.db')
    expect(stderr).toMatch(/ENOENT/)
    expect(stderr).not.toMatch(/\n\s+at /)
  }, 30_000)
})
