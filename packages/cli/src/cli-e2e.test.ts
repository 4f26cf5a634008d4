// The CLI end to end: the BUILT binary in real child processes, in a temporary directory.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url))
const TOKEN = 'e2e-admin-token-0123456789abcdef'

let cwd: string
beforeAll(() => {
  if (!existsSync(BIN)) {
    throw new Error(
      `The CLI is not built (${BIN} is missing). Build first: npm run x -- turbo run build --filter=@killswitch/cli (npm test builds for you).`,
    )
  }
  cwd = mkdtempSync(join(tmpdir(), 'killswitch-cli-'))
})
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function finished(child: ChildProcess) {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const killswitch = (args: string[], env: Record<string, string> = {}) => finished(start(args, env))

/** Resolves with the first stdout line matching `pattern`. */
function firstMatch(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    child.stdout?.on('data', (chunk) => {
      seen += chunk
      const match = pattern.exec(seen)
      if (match) resolve(match)
    })
    child.once('close', (code) =>
      reject(new Error(`exited (${code}) before printing ${pattern}: ${seen}`)),
    )
  })
}

describe('killswitch (built binary)', () => {
  it('prints help (exit 0) and refuses unknown commands (exit 1)', async () => {
    const help = await killswitch(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: killswitch/)
    const unknown = await killswitch(['frobnicate'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/unknown command/)
  })

  it('serve refuses to start without an admin token', async () => {
    const result = await killswitch(['--store', 'memory', 'serve', '--port', '0'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/KILLSWITCH_ADMIN_TOKEN/)
  })

  it('serves the admin API until SIGTERM, then stops cleanly', async () => {
    const child = start(['--store', 'memory', 'serve', '--port', '0'], {
      KILLSWITCH_ADMIN_TOKEN: TOKEN,
    })
    const done = finished(child)
    const [, url] = await firstMatch(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

    expect((await fetch(`${url}/v1/agents`)).status).toBe(401)
    const created = await fetch(`${url}/v1/agents`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ handle: 'e2e-agent', spendingCap: 5 }),
    })
    expect(created.status).toBe(201)
    const { credential } = (await created.json()) as { credential: string }
    const introspect = () =>
      fetch(`${url}/v1/introspect`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: credential }),
      }).then((response) => response.json())
    expect(await introspect()).toMatchObject({ active: true, handle: 'e2e-agent' })
    const revoked = await fetch(`${url}/v1/agents/e2e-agent/revoke`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'e2e' }),
    })
    expect(revoked.status).toBe(200)
    expect(await introspect()).toEqual({ active: false })

    child.kill('SIGTERM')
    const result = await done
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/admin API stopped/)
    expect(result.stdout + result.stderr).not.toContain(TOKEN)
    expect(result.stdout + result.stderr).not.toContain(credential)
  })
})
