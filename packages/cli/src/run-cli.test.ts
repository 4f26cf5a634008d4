import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { runCli } from './run-cli.js'
import { buffer, cliHarness } from './test-helpers.js'

const CREDENTIAL = /ks_[A-Za-z0-9_-]{43}/

let harness = cliHarness()
afterEach(async () => {
  await harness.ks.close()
  harness = cliHarness()
})

async function created(handle = 'researcher-agent-7', cap = '50') {
  const result = await harness.run(['agents', 'create', handle, '--cap', cap])
  expect(result.code).toBe(0)
  const credential = CREDENTIAL.exec(result.stdout)?.[0]
  if (!credential) throw new Error(`no credential in: ${result.stdout}`)
  return { ...result, credential }
}

describe('killswitch agents', () => {
  it('create prints the credential once, with a warning, and the credential works', async () => {
    const { stdout, stderr, credential } = await created()
    expect(stdout).toContain('Created agent researcher-agent-7 with a spending cap of $50.00')
    expect(stderr).toMatch(/shown only once/)
    expect(await harness.ks.verify(credential)).toMatchObject({
      active: true,
      handle: 'researcher-agent-7',
    })

    // Nowhere else: not in get, list or the audit log.
    for (const argv of [
      ['agents', 'get', 'researcher-agent-7', '--json'],
      ['agents', 'list', '--json'],
      ['audit', 'researcher-agent-7', '--json'],
    ]) {
      const result = await harness.run(argv)
      expect(result.code).toBe(0)
      expect(result.stdout + result.stderr).not.toContain(credential)
    }
  })

  it('create --json gives the agent and its credential', async () => {
    const result = await harness.run(['agents', 'create', 'a1', '--cap', '$12.5', '--json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({
      handle: 'a1',
      spendingCap: 12.5,
      status: 'active',
      credential: expect.stringMatching(CREDENTIAL),
    })
  })

  it('refuses a duplicate (exit 3), a bad cap (exit 1) and a missing --cap (exit 1)', async () => {
    await created('dup')
    const duplicate = await harness.run(['agents', 'create', 'dup', '--cap', '5'])
    expect(duplicate.code).toBe(EXIT_CODES.conflict)
    expect(duplicate.stderr).toMatch(/error: .*"dup" exists already/)

    const badCap = await harness.run(['agents', 'create', 'x', '--cap', 'lots'])
    expect(badCap.code).toBe(EXIT_CODES.usage)
    expect(badCap.stderr).toMatch(/Invalid cap: "lots"/)

    const negative = await harness.run(['agents', 'create', 'x', '--cap', '-5'])
    expect(negative.code).toBe(EXIT_CODES.usage)
    expect(negative.stderr).toMatch(/Invalid cap: "-5" is not an amount of dollars/)

    const missing = await harness.run(['agents', 'create', 'x'])
    expect(missing.code).toBe(EXIT_CODES.usage)
    expect(missing.stderr).toMatch(/required option '--cap <usd>'/)
    expect(await harness.ks.agents.list()).toHaveLength(1)
  })

  it('list shows spend against cap as bars, and status', async () => {
    expect((await harness.run(['agents', 'list'])).stdout).toMatch(/No agents yet/)
    await created('alpha', '50')
    await created('beta', '10')
    await harness.ks.agents.revoke('beta', { reason: 'test' })
    const { code, stdout } = await harness.run(['agents', 'list'])
    expect(code).toBe(0)
    const lines = stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^HANDLE\s+STATUS\s+SPENT \/ CAP\s+SPEND\s+AVAILABLE$/)
    expect(lines[1]).toMatch(/^alpha\s+active\s+\$0\.00 \/ \$50\.00\s+░{20}\s+0%\s+\$50\.00$/)
    expect(lines[2]).toMatch(/^beta\s+revoked\s+\$0\.00 \/ \$10\.00/)
  })

  it('get describes one agent; an unknown handle exits 2', async () => {
    await created('alpha', '50')
    const { stdout } = await harness.run(['agents', 'get', 'alpha'])
    expect(stdout).toMatch(/^alpha {2}active\n/)
    expect(stdout).toMatch(/spent\s+\$0\.00 of \$50\.00/)
    expect(stdout).toMatch(/available\s+\$50\.00/)
    const missing = await harness.run(['agents', 'get', 'nobody'])
    expect(missing.code).toBe(EXIT_CODES.notFound)
    expect(missing.stderr).toMatch(/No agent has the handle "nobody"/)
  })

  it('create --allowed-payee (repeatable) --max-spend sets spend rules; get shows them', async () => {
    const payee = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
    const result = await harness.run([
      ...['agents', 'create', 'buyer', '--cap', '20', '--allowed-payee', payee],
      ...['--allowed-payee', 'search.example', '--max-spend', '$0.50'],
    ])
    expect(result.code).toBe(0)
    expect((await harness.ks.agents.get('buyer')).spendRules).toEqual({
      allowedPayees: [payee, 'search.example'],
      maxSpendUsd: 0.5,
    })
    const { stdout } = await harness.run(['agents', 'get', 'buyer'])
    expect(stdout).toMatch(new RegExp(`payees\\s+${payee}, search\\.example\n`))
    expect(stdout).toMatch(/max spend\s+\$0\.50 per payment/)
    const json = await harness.run(['agents', 'get', 'buyer', '--json'])
    expect(JSON.parse(json.stdout).spendRules).toEqual({
      allowedPayees: [payee, 'search.example'],
      maxSpendUsd: 0.5,
    })
    // An agent without rules shows none.
    await created('plain')
    expect((await harness.run(['agents', 'get', 'plain'])).stdout).not.toMatch(/payees|max spend/)
  })

  it('create refuses a bad --max-spend and writes nothing', async () => {
    for (const bad of ['lots', '-1']) {
      const result = await harness.run(['agents', 'create', 'x', '--cap', '5', '--max-spend', bad])
      expect(result.code).toBe(EXIT_CODES.usage)
      expect(result.stderr).toMatch(/max-spend|maxSpendUsd/)
    }
    expect(await harness.ks.agents.list()).toHaveLength(0)
  })

  it('update --max-spend / --allowed-payee replace their own rule and keep the other', async () => {
    const create = await harness.run([
      ...['agents', 'create', 'buyer', '--cap', '20', '--allowed-payee', 'a.example', '--json'],
    ])
    const { credential } = JSON.parse(create.stdout)
    const max = await harness.run(['agents', 'update', 'buyer', '--max-spend', '0.25'])
    expect(max.code).toBe(0)
    expect(max.stdout).toMatch(/max spend\s+\$0\.25/)
    expect((await harness.ks.agents.get('buyer')).spendRules).toEqual({
      allowedPayees: ['a.example'],
      maxSpendUsd: 0.25,
    })
    const payees = await harness.run([
      ...['agents', 'update', 'buyer', '--allowed-payee', 'b.example'],
      ...['--allowed-payee', 'c.example', '--json'],
    ])
    expect(payees.code).toBe(0)
    expect(JSON.parse(payees.stdout).spendRules).toEqual({
      allowedPayees: ['b.example', 'c.example'],
      maxSpendUsd: 0.25,
    })
    // The rules bind the agent's spends at once.
    const guard = harness.ks.guard(credential)
    await expect(
      guard.reserveSpend({ amountUsd: 0.3, kind: 'payment', description: 'x', payee: 'b.example' }),
    ).rejects.toMatchObject({ code: 'spend_refused', rule: 'max_spend_exceeded' })
    const bad = await harness.run(['agents', 'update', 'buyer', '--max-spend', 'nope'])
    expect(bad.code).toBe(EXIT_CODES.usage)
    expect((await harness.ks.agents.get('buyer')).spendRules.maxSpendUsd).toBe(0.25)
  })
})

describe('killswitch cap, alert, revoke, audit', () => {
  it('cap changes the cap and says what it was', async () => {
    await created('alpha', '50')
    const result = await harness.run(['cap', 'alpha', '10'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/Cap of alpha: \$50\.00 -> \$10\.00/)
    expect((await harness.ks.agents.get('alpha')).spendingCap).toBe(10)
    expect((await harness.run(['cap', 'nobody', '10'])).code).toBe(EXIT_CODES.notFound)
    expect((await harness.run(['cap', 'alpha', 'ten'])).code).toBe(EXIT_CODES.usage)
  })

  it('alert sets a signed rule from --secret-env; refuses percentages without %, and bad URLs', async () => {
    const h = cliHarness({ HOOK_SECRET: 'whsec_0123456789abcdef' })
    try {
      await h.run(['agents', 'create', 'alpha', '--cap', '50'])
      const ok = await h.run([
        'alert',
        'alpha',
        '--at',
        '80%',
        '--webhook',
        'https://hooks.example.com/ks',
        '--secret-env',
        'HOOK_SECRET',
      ])
      expect(ok.code).toBe(0)
      expect(ok.stdout).toMatch(
        /when spend crosses 80% of the cap \(\$40\.00 of \$50\.00\), signed/,
      )
      expect((await h.ks.agents.get('alpha')).alerts).toEqual([
        { thresholdPct: 0.8, webhookUrl: 'https://hooks.example.com/ks', signed: true },
      ])
      expect(ok.stdout + ok.stderr).not.toContain('whsec_0123456789abcdef')

      const percent = await h.run([
        'alert',
        'alpha',
        '--at',
        '80',
        '--webhook',
        'https://x.example',
      ])
      expect(percent.code).toBe(EXIT_CODES.usage)
      expect(percent.stderr).toMatch(/--at: "80".*80%/)

      const badUrl = await h.run(['alert', 'alpha', '--at', '0.5', '--webhook', 'ftp://x.example'])
      expect(badUrl.code).toBe(EXIT_CODES.usage)
      expect(badUrl.stderr).toMatch(/webhookUrl/)

      const noEnv = await h.run([
        'alert',
        'alpha',
        '--at',
        '0.5',
        '--webhook',
        'https://x.example',
        '--secret-env',
        'MISSING',
      ])
      expect(noEnv.code).toBe(EXIT_CODES.usage)
      expect(noEnv.stderr).toMatch(/MISSING \(--secret-env\) is not set/)

      // No secret given: one is generated, stored with the rule and shown this once.
      const generated = await h.run([
        'alert',
        'alpha',
        '--at',
        '0.5',
        '--webhook',
        'https://x.example',
      ])
      expect(generated.code).toBe(0)
      const secret = /(whsec_[A-Za-z0-9_-]{43})/.exec(generated.stdout)?.[1] ?? ''
      expect(secret).not.toBe('')
      expect(generated.stderr).toMatch(/shown only once/)
      expect(generated.stdout + generated.stderr).not.toMatch(/unsigned/)
      const shownLater = await h.run(['agents', 'get', 'alpha', '--json'])
      expect(shownLater.stdout).not.toContain(secret)
      expect(shownLater.stdout).not.toMatch(/"signed": false/)
    } finally {
      await h.ks.close()
    }
  })

  it('revoke confirms before the alert is delivered, and says on stderr that it is pending', async () => {
    await created('alpha', '50')
    // Closing flushes alert deliveries: here a receiver that does not answer until released.
    let release = () => {}
    const delivered = new Promise<void>((resolve) => {
      release = resolve
    })
    const stdout = buffer()
    const stderr = buffer()
    const running = runCli(['revoke', 'alpha'], {
      stdout,
      stderr,
      env: {},
      cwd: '/nonexistent',
      openKillSwitch: async () => ({ killSwitch: harness.ks, close: () => delivered }),
    })
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
      expect(check()).toBe(true)
    }
    await until(() => stdout.text().includes('Confirmed: the store'))
    expect(stdout.text()).toMatch(/^Revoked alpha in \d+\.\d ms/)
    await until(() => stderr.text().includes('still delivering its alert'))
    expect(stderr.text()).toMatch(/The revoke is done; still delivering its alert/)
    release()
    expect(await running).toBe(0)

    // Nothing pending (already revoked, or a quick close): no notice.
    const again = await harness.run(['revoke', 'alpha'], {
      openKillSwitch: async () => ({
        killSwitch: harness.ks,
        close: () => new Promise((resolve) => setTimeout(resolve, 400)),
      }),
    })
    expect(again.stdout).toMatch(/already revoked/)
    expect(again.stderr).toBe('')
  })

  it('revoke kills the credential, says how long it took, and is idempotent', async () => {
    const { credential } = await created('alpha', '50')
    const guard = harness.ks.guard(credential)
    await guard.check()

    const result = await harness.run(['revoke', 'alpha', '--reason', 'looping on search'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/Revoked alpha in \d+\.\d ms \(reason: looping on search\)/)
    expect(result.stdout).toMatch(/Confirmed: the store .* reports it revoked since \d{4}-/)
    expect(await harness.ks.verify(credential)).toEqual({ active: false })
    expect(guard.signal.aborted).toBe(true)
    await expect(harness.ks.guard(credential).check()).rejects.toMatchObject({
      code: 'agent_revoked',
    })

    const again = await harness.run(['revoke', 'alpha'])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/already revoked .*looping on search.*nothing changed/)
    expect((await harness.run(['revoke', 'nobody'])).code).toBe(EXIT_CODES.notFound)
  })

  it('revoke says what calls in flight still hold, in its answer and in the audit log', async () => {
    const { credential } = await created('alpha', '50')
    const guard = harness.ks.guard(credential)
    const ticket = await guard.beforeModelCall({
      model: 'gpt-4o',
      input: 'hi',
      maxOutputTokens: 100,
    })
    const result = await harness.run(['revoke', 'alpha', '--reason', 'looping'])
    expect(result.stdout).toMatch(
      /It spent \$0\.00 of \$50\.00, plus \$0\.\d+ held by calls in flight \(settling now\)\./,
    )
    const revoked = (await harness.ks.audit('alpha')).find((entry) => entry.type === 'revoked')
    expect(revoked?.summary).toMatch(
      /^revoked by cli at \$0 of \$50 \(plus \$[\d.]+ held by calls in flight\): looping$/,
    )
    await guard.failModelCall(ticket, new Error('revoked'), { sent: false })
  })

  it('audit prints a table, JSON lines or CSV', async () => {
    await created('alpha', '50')
    await harness.run(['cap', 'alpha', '20'])
    await harness.run(['revoke', 'alpha', '--reason', 'done, with "quotes", and commas'])

    const table = await harness.run(['audit', 'alpha'])
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME\s+TYPE\s+SUMMARY$/)
    expect(table.stdout).toMatch(/created/)

    const lines = (await harness.run(['audit', 'alpha', '--json'])).stdout.trimEnd().split('\n')
    const entries = lines.map((line) => JSON.parse(line))
    expect(entries.map((entry) => entry.type)).toEqual(['created', 'cap_changed', 'revoked'])
    expect(entries[0].at).toMatch(/^\d{4}-\d\d-\d\dT/)

    const csv = (await harness.run(['audit', 'alpha', '--csv'])).stdout.trimEnd().split('\n')
    expect(csv[0]).toBe('at,handle,type,summary,data')
    expect(csv).toHaveLength(4)
    expect(csv[3]).toMatch(/^[^,]+,alpha,revoked,"revoked by cli .*""quotes"", and commas",/)

    const last = (await harness.run(['audit', 'alpha', '--json', '--limit', '1'])).stdout
    expect(JSON.parse(last).type).toBe('revoked')
    expect((await harness.run(['audit', 'alpha', '--json', '--csv'])).code).toBe(EXIT_CODES.usage)
    expect((await harness.run(['audit', 'nobody'])).code).toBe(EXIT_CODES.notFound)
  })
})

describe('killswitch (the program)', () => {
  it('has --help everywhere, documents exit codes, and exits 1 on unknown commands', async () => {
    const top = await harness.run(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/Usage: killswitch/)
    expect(top.stdout).toMatch(/Exit codes:/)
    for (const argv of [
      ['agents', '--help'],
      ['agents', 'create', '--help'],
      ['revoke', '--help'],
      ['serve', '--help'],
      ['audit', '--help'],
      ['alert', '--help'],
      ['cap', '--help'],
    ]) {
      const result = await harness.run(argv)
      expect(result.code, argv.join(' ')).toBe(0)
      expect(result.stdout, argv.join(' ')).toMatch(/Usage: killswitch /)
    }
    const unknown = await harness.run(['frobnicate'])
    expect(unknown.code).toBe(EXIT_CODES.usage)
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/)
    expect((await harness.run(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('colours only on a TTY, and never with NO_COLOR or --no-color', async () => {
    await created('alpha', '50')
    const run = async (isTTY: boolean, env: Record<string, string>, extra: string[] = []) => {
      const stdout = buffer(isTTY)
      await runCli(['agents', 'list', ...extra], {
        stdout,
        stderr: buffer(isTTY),
        env,
        openKillSwitch: async () => ({ killSwitch: harness.ks, close: async () => {} }),
      })
      return stdout.text()
    }
    const ESC = '\u001b['
    expect(await run(true, {})).toContain(ESC)
    expect(await run(false, {})).not.toContain(ESC)
    expect(await run(true, { NO_COLOR: '1' })).not.toContain(ESC)
    expect(await run(true, {}, ['--no-color'])).not.toContain(ESC)
  })

  it('keeps agents in .killswitch/state.db under the working directory by default', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'killswitch-run-cli-'))
    try {
      const run = async (argv: string[], env: Record<string, string> = {}) => {
        const stdout = buffer()
        const stderr = buffer()
        const code = await runCli(argv, { stdout, stderr, env, cwd })
        return { code, stdout: stdout.text(), stderr: stderr.text() }
      }
      expect((await run(['agents', 'create', 'kept', '--cap', '5'])).code).toBe(0)
      expect(existsSync(join(cwd, '.killswitch', 'state.db'))).toBe(true)
      expect((await run(['agents', 'list'])).stdout).toMatch(/kept\s+active/)
      // KILLSWITCH_STORE and --store pick another file (empty here).
      const other = await run(['agents', 'list'], { KILLSWITCH_STORE: 'sqlite:other.db' })
      expect(other.stdout).toMatch(/No agents yet/)
      expect((await run(['--store', 'sqlite:other.db', 'agents', 'list'])).stdout).toMatch(
        /No agents yet/,
      )
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })

  it('creates no default store in a folder without one: says so, exit 2 (only create makes it)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'killswitch-run-cli-'))
    try {
      const run = async (argv: string[]) => {
        const stderr = buffer()
        const code = await runCli(argv, { stdout: buffer(), stderr, env: {}, cwd })
        return { code, stderr: stderr.text() }
      }
      const state = join(cwd, '.killswitch')
      for (const argv of [
        ['revoke', 'cwd-agent'],
        ['agents', 'list'],
        ['agents', 'get', 'cwd-agent'],
        ['audit', 'cwd-agent'],
        ['cap', 'cwd-agent', '5'],
        ['budgets', 'list'],
        ['approvals', 'list'],
      ]) {
        const result = await run(argv)
        expect(result.code, argv.join(' ')).toBe(EXIT_CODES.notFound)
        expect(result.stderr).toBe(
          `error: No store at sqlite:${join(state, 'state.db')} (the default, under the working directory). Point at yours with --store sqlite:PATH (or redis://...) or KILLSWITCH_STORE, or run this from the folder where the agents were created.\n`,
        )
        expect(existsSync(state), argv.join(' ')).toBe(false)
      }
      // A store named explicitly is opened (created) as asked; create makes the default.
      expect((await run(['--store', 'sqlite:named.db', 'agents', 'list'])).code).toBe(0)
      expect(existsSync(join(cwd, 'named.db'))).toBe(true)
      expect((await run(['agents', 'create', 'cwd-agent', '--cap', '5'])).code).toBe(0)
      expect((await run(['revoke', 'cwd-agent'])).code).toBe(0)
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })

  it('gives the default state folder it creates a .gitignore that ignores state.db', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'killswitch-run-cli-'))
    try {
      const code = await runCli(['agents', 'create', 'kept', '--cap', '5'], {
        stdout: buffer(),
        stderr: buffer(),
        env: {},
        cwd,
      })
      expect(code).toBe(0)
      const ignore = join(cwd, '.killswitch', '.gitignore')
      expect(existsSync(ignore)).toBe(true)
      // The same file core's sqliteStore writes in a folder it creates.
      expect(readFileSync(ignore, 'utf8')).toBe('# Kill switch state: never commit it.\n*\n')
      const git = (...args: string[]) => spawnSync('git', args, { cwd, encoding: 'utf8' })
      if (git('init', '-q').status === 0) {
        for (const file of ['.killswitch/state.db', '.killswitch/state.db-wal']) {
          expect(git('check-ignore', '-q', file).status, file).toBe(0)
        }
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })

  it('refuses an unknown store spec with the forms it accepts', async () => {
    const stderr = buffer()
    const code = await runCli(['--store', 'postgres://x', 'agents', 'list'], {
      stdout: buffer(),
      stderr,
      env: {},
    })
    expect(code).toBe(EXIT_CODES.usage)
    expect(stderr.text()).toMatch(/sqlite:PATH, redis:\/\//)
  })

  it('serve refuses an admin token with a trailing newline, naming token and the fix', async () => {
    const withNewline = cliHarness({ KILLSWITCH_ADMIN_TOKEN: 'admin-token-0123456789abcdef\n' })
    try {
      const result = await withNewline.run(['serve', '--port', '0'])
      expect(result.code).toBe(EXIT_CODES.usage)
      expect(result.stderr).toMatch(/token/)
      expect(result.stderr).toMatch(/strip the trailing newline/)
      expect(result.stderr).not.toContain('admin-token-0123456789abcdef')
    } finally {
      await withNewline.ks.close()
    }
  })

  it('serve refuses to start without a token, and --insecure-no-auth off loopback', async () => {
    const noToken = await harness.run(['serve', '--port', '0'])
    expect(noToken.code).toBe(EXIT_CODES.usage)
    expect(noToken.stderr).toMatch(/KILLSWITCH_ADMIN_TOKEN/)
    const exposed = await harness.run([
      'serve',
      '--port',
      '0',
      '--host',
      '0.0.0.0',
      '--insecure-no-auth',
    ])
    expect(exposed.code).toBe(EXIT_CODES.usage)
    expect(exposed.stderr).toMatch(/loopback only/)
  })
})
