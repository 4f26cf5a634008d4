// The CLI's side of the hardening: credentials never echoed (errors, output, the access
// log), webhook URL secrets masked, private webhook targets refused unless allowed, and the
// state it creates readable by its owner only.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { runCli } from './run-cli.js'
import { buffer, cliHarness } from './test-helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('credentials are never echoed by the CLI', () => {
  it('a credential pasted where a handle goes is redacted in every error', async () => {
    const h = cliHarness()
    try {
      const created = await h.run(['agents', 'create', 'alpha', '--cap', '5', '--json'])
      const { credential } = JSON.parse(created.stdout) as { credential: string }
      for (const argv of [
        ['agents', 'get', credential],
        ['revoke', credential, '--reason', 'x'],
        ['cap', credential, '10'],
        ['audit', credential],
        ['agents', 'create', credential, '--cap', '1'],
        ['alert', credential, '--at', '0.5', '--webhook', 'https://a.example.com/'],
        ['cap', 'alpha', credential],
        ['no-such-command', credential],
      ]) {
        const result = await h.run(argv)
        expect(result.code, argv.join(' ')).not.toBe(EXIT_CODES.ok)
        expect(result.stdout + result.stderr, argv.join(' ')).not.toContain(credential.slice(3))
      }
      // A credential in a revocation reason is stored and shown redacted.
      const revoked = await h.run(['revoke', 'alpha', '--reason', `leaked ${credential}`])
      expect(revoked.stdout).toContain('leaked ks_[redacted]')
      const audit = await h.run(['audit', 'alpha', '--json'])
      expect(audit.stdout).not.toContain(credential.slice(3))
    } finally {
      await h.ks.close()
    }
  })

  it('still shows a new credential once: that is what create is for', async () => {
    const h = cliHarness()
    try {
      const created = await h.run(['agents', 'create', 'alpha', '--cap', '5'])
      expect(created.stdout).toMatch(/ks_[A-Za-z0-9_-]{43}/)
    } finally {
      await h.ks.close()
    }
  })
})

describe('webhook targets and URLs in the CLI', () => {
  it('refuses a private target unless allowed, and masks URL secrets in every view', async () => {
    const h = cliHarness()
    try {
      await h.run(['agents', 'create', 'alpha', '--cap', '5'])
      const refused = await h.run([
        'alert',
        'alpha',
        '--at',
        '0.5',
        '--webhook',
        'http://169.254.169.254/latest/meta-data/',
      ])
      expect(refused.code).toBe(EXIT_CODES.usage)
      expect(refused.stderr).toMatch(/loopback, private, link-local or metadata/)

      const secretUrl = 'https://bot:pa55word@hooks.example.com/ks?token=s3cr3tvalue'
      const set = await h.run(['alert', 'alpha', '--at', '0.5', '--webhook', secretUrl])
      expect(set.code).toBe(0)
      const views = [
        set,
        await h.run(['agents', 'get', 'alpha']),
        await h.run(['agents', 'get', 'alpha', '--json']),
        await h.run(['agents', 'list', '--json']),
      ]
      for (const view of views) {
        expect(view.stdout).not.toContain('pa55word')
        expect(view.stdout).not.toContain('s3cr3tvalue')
      }
      expect(views[1]?.stdout).toContain('https://***@hooks.example.com/ks?token=***')
    } finally {
      await h.ks.close()
    }
  })

  it('--allow-private-webhooks and KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS reach the kill switch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-cli-'))
    dirs.push(dir)
    const run = async (argv: string[], env: Record<string, string> = {}) => {
      const stdout = buffer()
      const stderr = buffer()
      const code = await runCli(argv, { stdout, stderr, env, cwd: dir })
      return { code, stdout: stdout.text(), stderr: stderr.text() }
    }
    expect((await run(['agents', 'create', 'alpha', '--cap', '5'])).code).toBe(0)
    const hook = ['alert', 'alpha', '--at', '0.5', '--webhook', 'http://127.0.0.1:9/hook']
    expect((await run(hook)).code).toBe(EXIT_CODES.usage)
    expect((await run([...hook, '--allow-private-webhooks'])).code).toBe(0)
    expect((await run([...hook, '--allow-webhook-host', '127.0.0.1'])).code).toBe(0)
    expect((await run(hook, { KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS: '127.0.0.1' })).code).toBe(0)
    expect((await run(hook, { KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS: '10.0.0.1' })).code).toBe(
      EXIT_CODES.usage,
    )
  })
})

describe('an alert a revoke could not send', () => {
  it('is said on stderr with the flag that allows it; a delivered one is not', async () => {
    const received: string[] = []
    const server = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk) => {
        body += chunk
      })
      request.on('end', () => {
        received.push(body)
        // A receiver that answers 410 Gone: not retried, not delivered.
        response.writeHead(request.url?.startsWith('/gone') ? 410 : 204).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const dir = mkdtempSync(join(tmpdir(), 'ks-cli-'))
    dirs.push(dir)
    const run = async (argv: string[]) => {
      const stdout = buffer()
      const stderr = buffer()
      const code = await runCli(argv, { stdout, stderr, env: {}, cwd: dir })
      return { code, stdout: stdout.text(), stderr: stderr.text() }
    }
    try {
      for (const handle of ['alpha', 'beta', 'gamma']) {
        expect((await run(['agents', 'create', handle, '--cap', '5'])).code).toBe(0)
        const path = handle === 'gamma' ? 'gone' : 'hook'
        const webhook = `http://127.0.0.1:${port}/${path}?token=s3cr3tvalue`
        const alert = ['alert', handle, '--at', '0.5', '--webhook', webhook]
        expect((await run([...alert, '--allow-private-webhooks'])).code).toBe(0)
      }

      // Without the flag the delivery is refused: the revoke stands, and stderr says so.
      const refused = await run(['revoke', 'alpha'])
      expect(refused.code).toBe(0)
      expect(refused.stdout).toMatch(/^Revoked alpha in/)
      expect(refused.stderr).toMatch(
        /warning: the revoke alert to http:\/\/127\.0\.0\.1:\d+\/\S* was NOT delivered \(its webhook host is, or resolves to, a loopback, private, link-local or metadata address; to send alerts there, revoke with --allow-private-webhooks or --allow-webhook-host <host>/,
      )
      expect(refused.stderr).not.toMatch(/serve --allow-private-webhooks|s3cr3tvalue/)
      expect(received).toEqual([])

      // Allowed, it is delivered: nothing to say.
      const sent = await run(['revoke', 'beta', '--allow-webhook-host', '127.0.0.1'])
      expect(sent.code).toBe(0)
      expect(sent.stderr).toBe('')
      expect(received).toHaveLength(1)
      expect(JSON.parse(received[0] ?? '{}')).toMatchObject({ agent: 'beta', type: 'revoked' })

      // Any other failure is said with the receiver's answer.
      const gone = await run(['revoke', 'gamma', '--allow-private-webhooks'])
      expect(gone.code).toBe(0)
      expect(gone.stderr).toMatch(
        /revoke alert to .* was NOT delivered \(.*410.*, after 1 attempt\(s\)\)/,
      )
      expect(received).toHaveLength(2)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('state the CLI creates is owner-only', () => {
  it('refuses a sqlite path it cannot create as a bad store (exit 1), naming the path and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-cli-'))
    dirs.push(dir)
    writeFileSync(join(dir, 'afile'), 'not a folder')
    // The database file under a file, and a folder to create under one.
    for (const path of ['afile/state.db', 'afile/sub/state.db']) {
      const stderr = buffer()
      const code = await runCli(['--store', `sqlite:${path}`, 'agents', 'list'], {
        stdout: buffer(),
        stderr,
        env: {},
        cwd: dir,
      })
      expect(code, path).toBe(EXIT_CODES.usage)
      expect(stderr.text()).toContain(`error: Invalid store sqlite:${join(dir, path)}: cannot`)
      expect(stderr.text()).toMatch(/ENOTDIR: a part of the path is a file, not a folder/)
      expect(stderr.text()).not.toMatch(/internal error|This is a bug|\n\s+at /)
    }
  })

  it('makes the state folder 0700 and the database 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-cli-'))
    dirs.push(dir)
    const stdout = buffer()
    const stderr = buffer()
    const code = await runCli(['agents', 'create', 'alpha', '--cap', '5'], {
      stdout,
      stderr,
      env: {},
      cwd: dir,
    })
    expect(code).toBe(0)
    expect(statSync(join(dir, '.killswitch')).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, '.killswitch', 'state.db')).mode & 0o777).toBe(0o600)
    const nested = join(dir, 'a', 'b', 'ks.db')
    await runCli(['agents', 'list', '--store', `sqlite:${nested}`], {
      stdout,
      stderr,
      env: {},
      cwd: dir,
    })
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o700)
    expect(statSync(nested).mode & 0o777).toBe(0o600)
  })
})
