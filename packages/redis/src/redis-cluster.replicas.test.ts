// On a Redis Cluster a revocation waits for a replica of the master serving the agent's slot,
// on the connection that wrote it (WAIT covers that connection's writes only); an agent on a
// master without replicas is not waited for.

import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { createKillSwitch, RevocationUnreplicatedError } from '@killswitch/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { clusterKeys } from './redis-keys.js'
import { redisStore } from './redis-store.js'
import { honestCalls } from './test-support/honest-calls.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'
import { type RedisServer, startRedisServer } from './test-support/start-redis-server.js'

let cluster: RedisCluster
let replica: RedisServer
let onReplica: Redis
let first: Redis
beforeAll(async () => {
  cluster = await startRedisCluster()
  replica = await startRedisServer({
    args: ['--cluster-enabled', 'yes', '--enable-debug-command', 'yes'],
  })
  onReplica = new Redis(replica.url)
  const [master] = cluster.nodes as [{ host: string; port: number }]
  first = new Redis(master.port, master.host)
  // The first master gets a replica; the other two have none.
  await promisify(execFile)('redis-cli', [
    '--cluster',
    'add-node',
    replica.url.replace('redis://', ''),
    `${master.host}:${master.port}`,
    '--cluster-slave',
    '--cluster-master-id',
    String(await first.call('CLUSTER', 'MYID')),
  ])
  await vi.waitFor(
    async () => expect(await first.info('replication')).toMatch(/slave0:.*state=online/),
    { timeout: 15_000, interval: 50 },
  )
  // Online is not yet streaming (until the replica's first REPLCONF ACK): until a write of
  // the first master is acknowledged.
  const key = keys.ledger(await handleOn(false, 'attached'))[0] as string
  await first.set(key, '1')
  expect(Number(await first.call('WAIT', 1, 5_000))).toBe(1)
}, 40_000)
afterAll(async () => {
  onReplica?.disconnect()
  first?.disconnect()
  await Promise.all([replica?.dispose(), cluster?.dispose()])
})

const prefix = `replicas-${randomUUID()}:`
const keys = clusterKeys(prefix)
/** A handle whose agent lives on the first master (or, `elsewhere`, on another). */
async function handleOn(elsewhere: boolean, tag: string): Promise<string> {
  for (let i = 0; ; i++) {
    const handle = `${tag}-${i}`
    const served = await first.exists(keys.ledger(handle)[0] as string).then(
      () => true,
      () => false, // MOVED: another master serves its slot
    )
    if (served !== elsewhere) return handle
  }
}

it('waits for the replica of the agent’s master only, and reports a revocation it lacks as in force but unreplicated, holding up no other call', {
  timeout: 30_000,
}, async () => {
  vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
  const store = redisStore({ cluster: { nodes: cluster.nodes }, prefix, replicaTimeoutMs: 300 })
  const ks = createKillSwitch({ store })
  const [replicated, frozen, alone, honest] = [
    await handleOn(false, 'replicated'),
    await handleOn(false, 'frozen'),
    await handleOn(true, 'alone'),
    await handleOn(false, 'honest'),
  ]
  for (const handle of [replicated, frozen, alone]) {
    await ks.agents.create({ handle, spendingCap: 5 })
  }
  const { credential } = await ks.agents.create({ handle: honest, spendingCap: 100 })
  const guard = ks.guard(credential)
  await ks.agents.revoke(replicated, { reason: 'done' })
  await onReplica.call('READONLY')
  expect(await onReplica.hget(keys.ledger(replicated)[0] as string, 'status')).toBe('revoked')

  // The replica acknowledges nothing for 3 s (still connected, as far as its master knows).
  const sleeper = new Redis(replica.url)
  const freeze = sleeper.call('DEBUG', 'SLEEP', '3')
  await new Promise((resolve) => setTimeout(resolve, 50))
  const revoking = ks.agents.revoke(frozen, { reason: 'loop' }).catch((e: unknown) => e)
  // Meanwhile an agent on the same master is served as ever: its WAIT holds up no call.
  const { calls, slow } = await honestCalls(guard, 2_500)
  expect(calls).toBeGreaterThan(300)
  expect(slow).toBeLessThanOrEqual(2)
  expect(await ks.agents.get(honest)).toMatchObject({ spent: calls / 1_000_000, held: 0 })
  const error = await revoking
  expect(error).toBeInstanceOf(RevocationUnreplicatedError)
  expect(String((error as Error).message)).toContain('is in force now')
  // Meanwhile an agent on a master without replicas is revoked without waiting for one.
  await expect(ks.agents.revoke(alone, { reason: 'x' })).resolves.toMatchObject({
    status: 'revoked',
  })
  await freeze
  sleeper.disconnect()
  // The kill switch retried it until the replica had it: close() fails if it never was.
  await expect(ks.close()).resolves.toBeUndefined()
  await store.close()
  vi.restoreAllMocks()
})
