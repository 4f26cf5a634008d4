// Starts a real redis-server on a free loopback port for the tests (not part of the package).
// A missing server is a failure with the fix in the message, never a skip: in CI
// (`.ci/run` installs it) and locally alike, a test that did not run must not look green.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisServer {
  port: number
  url: string
  /** Stops the server (SIGTERM), keeping its data folder. */
  stop(): Promise<void>
  /** Starts it again on the same port; its append-only file brings the data back. */
  start(): Promise<void>
  /** Stops it and deletes its data. */
  dispose(): Promise<void>
}

const INSTALL_HINT =
  'The Redis store tests run against a real redis-server, which is not installed here. ' +
  'Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) and run the tests again.'

/**
 * Starts redis-server with an append-only file, so that a restart (SIGTERM) keeps the
 * data, as a production Redis for the kill switch must. `args` come last and override the
 * defaults (e.g. `['--appendonly', 'no', '--save', '60 1']` for an RDB-only server).
 *
 * @example
 * const redis = await startRedisServer()
 * const store = redisStore({ url: redis.url })
 */
export async function startRedisServer(options: { args?: string[] } = {}): Promise<RedisServer> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) throw new Error(INSTALL_HINT)
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'killswitch-redis-'))
  let child: ChildProcess | undefined

  const start = async () => {
    const server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--daemonize',
        'no',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = server
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          server.stdout?.off('data', onData)
          server.stdout?.resume()
          resolve()
        }
      }
      server.stdout?.on('data', onData)
      server.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      server.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)))
    })
  }

  const stop = async () => {
    const server = child
    child = undefined
    if (!server || server.exitCode !== null) return
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
  }

  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async dispose() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
