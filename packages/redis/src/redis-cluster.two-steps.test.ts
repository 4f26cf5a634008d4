// The operations that take two steps on a Redis Cluster, the record on its agent's slot and
// then the global index on the `{idx}` slot, when the second step fails: the `{idx}` node
// stalls past the command deadline (CLIENT PAUSE), so the operation throws after its first
// step was written. Its retry must finish the second step: a revocation reaches every
// process, a new agent is found by its credential.
import { randomUUID } from 'node:crypto'
import {
  AgentExistsError,
  type Store,
  type StoreEvent,
  StoreUnavailableError,
} from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { clusterKeys } from './redis-keys.js'
import { redisStore } from './redis-store.js'
import { type RedisCluster, startRedisCluster } from './test-support/start-redis-cluster.js'

let cluster: RedisCluster
/** One plain connection per node, to find slots and pause nodes. */
let admins: Redis[] = []
const opened: Store[] = []

beforeAll(async () => {
  cluster = await startRedisCluster()
  admins = cluster.nodes.map((node) => new Redis(node.port, node.host))
}, 30_000)
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()))
})
afterAll(async () => {
  for (const admin of admins) admin.disconnect()
  await cluster?.dispose()
})

const PAUSE_MS = 800

function open(prefix: string): Store {
  const store = redisStore({
    cluster: { nodes: cluster.nodes },
    prefix,
    clock: 'caller',
    allowVolatile: true,
    commandTimeoutMs: 200,
  })
  opened.push(store)
  return store
}

/** The admin connection of the node that serves this key's slot. */
async function nodeOf(key: string): Promise<Redis> {
  const slot = (await admins[0]?.call('CLUSTER', 'KEYSLOT', key)) as number
  const ranges = (await admins[0]?.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
  const range = ranges.find(([start, end]) => slot >= start && slot <= end)
  const index = cluster.nodes.findIndex((node) => node.port === range?.[2][1])
  return admins[index] as Redis
}

/** A handle whose slot is on another node than the `{idx}` slot, and that node. */
async function setUp(
  prefix: string,
): Promise<{ handle: string; idx: Redis; keys: ReturnType<typeof clusterKeys> }> {
  const keys = clusterKeys(prefix)
  const idx = await nodeOf(keys.agents)
  for (let i = 0; ; i++) {
    const handle = `agent-${i}`
    if ((await nodeOf(keys.ledger(handle)[0])) !== idx) return { handle, idx, keys }
  }
}

/** Stalls the node's writes past the store's deadline; resolves once they run again. */
async function stall(node: Redis): Promise<() => Promise<void>> {
  await node.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE')
  const over = Date.now() + PAUSE_MS + 100
  return () => new Promise((resolve) => setTimeout(resolve, over - Date.now()))
}

it('a revoke whose announcement failed is announced by its retry, with the first reason and time', async () => {
  const prefix = `announce-${randomUUID()}:`
  const { handle, idx, keys } = await setUp(prefix)
  const a = open(prefix)
  const b = open(prefix)
  await a.createAgent(testAgentRecord(handle, 1_000_000))
  const heardByA: StoreEvent[] = []
  const heardByB: StoreEvent[] = []
  a.subscribe((event) => heardByA.push(event))
  b.subscribe((event) => heardByB.push(event))
  // A call in flight in B (its reserve waits for B's feed to be subscribed and caught up).
  expect(
    (
      await b.reserve({
        handle,
        holdId: 'in-flight',
        amountMicros: 1_000,
        ttlMs: 600_000,
        now: 2_000,
      })
    ).ok,
  ).toBe(true)

  const resumed = await stall(idx)
  const failed = await a.revokeAgent(handle, 'runaway', 3_000).catch((error: unknown) => error)
  expect(StoreUnavailableError.isInstance(failed)).toBe(true)
  await resumed()
  // As if the process had died before the index: the retry must write it as well.
  await idx.zrem(keys.revocations, handle)
  expect(heardByB).toEqual([])

  const retried = await a.revokeAgent(handle, 'runaway (retry)', 4_000)
  expect(retried.alreadyRevoked).toBe(true)
  expect(retried.agent).toMatchObject({
    status: 'revoked',
    revokedReason: 'runaway',
    revokedAt: 3_000,
  })
  const revoked = { type: 'revoked', handle, reason: 'runaway', at: 3_000 }
  await expect.poll(() => heardByB, { timeout: 3_000 }).toContainEqual(revoked)
  expect(await idx.zscore(keys.revocations, handle)).not.toBeNull()

  // Heard once in each process, however often it is announced again.
  await a.revokeAgent(handle, 'again', 5_000)
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect(heardByB.filter((event) => event.type === 'revoked')).toEqual([revoked])
  expect(heardByA.filter((event) => event.type === 'revoked')).toEqual([revoked])
}, 20_000)

it('a create whose indexing failed is finished by its retry (the same record)', async () => {
  const prefix = `create-${randomUUID()}:`
  const { handle, idx, keys } = await setUp(prefix)
  const store = open(prefix)
  const record = testAgentRecord(handle, 5_000, 1_000)
  await store.listAgents(1_000)

  const resumed = await stall(idx)
  const failed = await store.createAgent(record).catch((error: unknown) => error)
  expect(StoreUnavailableError.isInstance(failed)).toBe(true)
  await resumed()
  // As if the process had died before its second step: no credential, in no index.
  const credential = keys.credential(record.credentialHash)
  await (await nodeOf(credential)).del(credential)
  await idx.zrem(keys.agents, handle)
  expect(await store.findAgentByCredentialHash(record.credentialHash, 1_500)).toBeUndefined()

  // Another create of the handle is still refused: another credential, or another cap.
  for (const other of [{ credentialHash: 'someone-else' }, { capMicros: 7 }]) {
    await expect(store.createAgent({ ...record, ...other })).rejects.toSatisfy(
      AgentExistsError.isInstance,
    )
  }
  const created = await store.createAgent(record)
  expect(created).toMatchObject({
    handle,
    credentialHash: record.credentialHash,
    status: 'active',
    capMicros: 5_000,
    createdAt: 1_000,
  })
  expect(await store.findAgentByCredentialHash(record.credentialHash, 2_000)).toMatchObject({
    handle,
  })
  expect((await store.listAgents(2_000)).map((agent) => agent.handle)).toEqual([handle])
  expect(await idx.zscore(keys.agents, handle)).toBe('1000')
  // Repeated again: the same answer, the index as it was.
  expect(await store.createAgent(record)).toMatchObject({ handle, status: 'active' })
  expect((await store.listAgents(2_000)).map((agent) => agent.handle)).toEqual([handle])
}, 20_000)
