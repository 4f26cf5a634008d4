// End to end across processes over a real redis-server: the BUILT `killswitch` binary in
// child processes, and agent processes (guards) that share its store. Needs redis-server
// installed: a missing server fails with the fix, it is never skipped.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CLI_DIR = fileURLToPath(new URL('..', import.meta.url))
const BUILT = [
  join(CLI_DIR, 'dist', 'bin.js'),
  join(CLI_DIR, '..', 'core', 'dist', 'index.js'),
  join(CLI_DIR, '..', 'redis', 'dist', 'index.js'),
]
const CREDENTIAL = /ks_[A-Za-z0-9_-]{43}/

let redis: ChildProcess
let url: string

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

beforeAll(async () => {
  for (const file of BUILT) {
    if (!existsSync(file)) {
      throw new Error(
        `${file} is missing: these tests run the BUILT packages in child processes. Build first: npm run x -- turbo run build --filter=@killswitch/cli (npm test builds for you).`,
      )
    }
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      'These tests need redis-server (apt-get install redis-server; brew install redis).',
    )
  }
  const port = await freePort()
  url = `redis://127.0.0.1:${port}`
  redis = spawn(
    'redis-server',
    // Durable as the Redis store requires (an append-only file, no eviction), in a temp dir.
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      mkdtempSync(join(tmpdir(), 'ks-redis-')),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  await new Promise<void>((resolve, reject) => {
    let output = ''
    redis.stdout?.on('data', (chunk) => {
      output += chunk
      if (output.includes('Ready to accept connections')) resolve()
    })
    redis.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)))
  })
})

afterAll(() => {
  redis?.kill('SIGTERM')
})

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

/** The built binary, with the store given by KILLSWITCH_STORE (as an operator would). */
const killswitch = (args: string[]) =>
  collect(
    spawn(process.execPath, [join(CLI_DIR, 'dist', 'bin.js'), ...args], {
      cwd: CLI_DIR,
      env: { PATH: process.env.PATH ?? '', KILLSWITCH_STORE: url },
    }),
  ).done

/** An agent process: a module script using the built @killswitch/core and @killswitch/redis. */
const agentProcess = (source: string, env: Record<string, string>) =>
  collect(
    spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: CLI_DIR,
      env: { PATH: process.env.PATH ?? '', KS_STORE: url, ...env },
    }),
  )

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

async function create(handle: string, cap: string): Promise<string> {
  const result = await killswitch(['agents', 'create', handle, '--cap', cap])
  expect(result.code, result.stderr).toBe(0)
  const credential = CREDENTIAL.exec(result.stdout)?.[0]
  if (!credential) throw new Error(`no credential printed: ${result.stdout}`)
  return credential
}

describe('killswitch across processes (redis store)', () => {
  it('create, list, cap, revoke and audit, each in its own process', async () => {
    await create('fleet-agent', '50')
    const list = await killswitch(['agents', 'list'])
    expect(list.stdout).toMatch(/fleet-agent\s+active\s+\$0\.00 \/ \$50\.00/)
    expect((await killswitch(['agents', 'create', 'fleet-agent', '--cap', '5'])).code).toBe(3)
    expect((await killswitch(['cap', 'fleet-agent', '20'])).code).toBe(0)

    const revoked = await killswitch(['revoke', 'fleet-agent', '--reason', 'e2e'])
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toMatch(/Revoked fleet-agent in \d+\.\d ms/)
    expect(revoked.stdout).toContain(`the store (${url})`)
    expect((await killswitch(['agents', 'get', 'fleet-agent'])).stdout).toMatch(
      /fleet-agent {2}revoked/,
    )

    const audit = await killswitch(['audit', 'fleet-agent', '--json'])
    const types = audit.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line).type)
    expect(types).toEqual(['created', 'cap_changed', 'revoked'])
    expect((await killswitch(['agents', 'get', 'nobody'])).code).toBe(2)
    // Nine processes one after another: give a loaded machine time (this is no timing test).
  }, 90_000)

  it('revoke from the CLI aborts a guard in another process, and its next call fails', async () => {
    const credential = await create('guarded-agent', '5')
    const agent = agentProcess(
      `
      import { createKillSwitch } from '@killswitch/core'
      import { redisStore } from '@killswitch/redis'
      const store = redisStore({ url: process.env.KS_STORE })
      const ks = createKillSwitch({ store })
      const guard = ks.guard(process.env.KS_CREDENTIAL)
      const ticket = await guard.reserveSpend({ amountUsd: 0.5, kind: 'tool', description: 'in flight' })
      const aborted = new Promise((resolve) => guard.signal.addEventListener('abort', () => resolve(guard.signal.reason), { once: true }))
      console.log('in flight')
      console.log('aborted: ' + (await aborted).code)
      try { await guard.reserveSpend({ amountUsd: 0.01, kind: 'tool', description: 'after revoke' }); console.log('next: allowed') }
      catch (error) { console.log('next: ' + error.code) }
      await guard.releaseSpend(ticket)
      await ks.close()
      await store.close()
      `,
      { KS_CREDENTIAL: credential },
    )
    await waitForLine(agent.stdout, 'in flight', agent.done)

    expect((await killswitch(['revoke', 'guarded-agent', '--reason', 'from the CLI'])).code).toBe(0)

    const result = await agent.done
    expect(result.stderr).toBe('')
    expect(result.stdout.trim().split('\n')).toEqual([
      'in flight',
      'aborted: agent_revoked',
      'next: agent_revoked',
    ])
    expect(result.code).toBe(0)
  })

  it('a threshold alert fires once across two processes', async () => {
    const credential = await create('alerting-agent', '10')
    const rule = await killswitch([
      'alert',
      'alerting-agent',
      '--at',
      '50%',
      '--webhook',
      'https://hooks.example.com/ks',
    ])
    expect(rule.code).toBe(0)
    // Each process records what its kill switch hands to the alert dispatcher.
    const spend = (amount: string) =>
      agentProcess(
        `
        import { createKillSwitch } from '@killswitch/core'
        import { redisStore } from '@killswitch/redis'
        const store = redisStore({ url: process.env.KS_STORE })
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
})
