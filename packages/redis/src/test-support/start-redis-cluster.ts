// Starts a real Redis Cluster for the tests (not part of the package): three masters from the
// same redis-server binary as the single-node tests, each with an append-only file, joined by
// `redis-cli --cluster create`. A missing redis-cli fails with the command that installs it.

import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface RedisCluster {
  nodes: { host: string; port: number }[]
  dispose(): Promise<void>
}

const CLI_HINT =
  'The Redis Cluster tests need redis-cli (package redis-tools, next to redis-server): apt-get install -y redis-tools'

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const probe = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) throw new Error(CLI_HINT)
  const dir = mkdtempSync(join(tmpdir(), 'killswitch-redis-cluster-'))
  const children: ChildProcess[] = []
  const ports: number[] = []
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort()
      const bus = await freePort()
      ports.push(port)
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${i}.conf`),
          '--dir',
          dir,
          '--appendonly',
          'yes',
          '--appendfilename',
          `appendonly-${i}.aof`,
          '--appenddirname',
          `aof-${i}`,
          '--save',
          '',
          '--daemonize',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      children.push(child)
      await new Promise<void>((resolve, reject) => {
        let output = ''
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          if (output.includes('Ready to accept connections')) {
            child.stdout?.off('data', onData)
            child.stdout?.resume()
            resolve()
          }
        }
        child.stdout?.on('data', onData)
        child.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString()
        })
        child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)))
      })
    }
    await promisify(execFile)('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    // Every node must agree that all slots are served before the tests start.
    for (let attempt = 0; ; attempt++) {
      const infos = ports.map(
        (port) =>
          spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' })
            .stdout,
      )
      if (infos.every((info) => info.includes('cluster_state:ok'))) break
      if (attempt === 200) throw new Error(`the cluster did not come up:\n${infos.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } catch (error) {
    for (const child of children) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    async dispose() {
      await Promise.all(
        children.map((child) => {
          if (child.exitCode !== null) return undefined
          const exited = new Promise((resolve) => child.once('exit', resolve))
          child.kill('SIGTERM')
          return exited
        }),
      )
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
