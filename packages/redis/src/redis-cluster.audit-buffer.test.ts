// On a Redis Cluster, buffered audit entries whose write timed out (every node paused for
// writes past the command deadline, then running them) are written once when sent again: the
// ids the script keeps are in the agent's slot, under clusterKeys' auditIds.
import { randomUUID } from 'node:crypto'
import { type AuditEntry, StoreUnavailableError } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { Cluster, Redis } from 'ioredis'
import { expect, it } from 'vitest'
import { clusterKeys } from './redis-keys.js'
import { redisStore } from './redis-store.js'
import { startRedisCluster } from './test-support/start-redis-cluster.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const note = (n: number): AuditEntry => ({
  at: 1_000 + n,
  handle: 'paused',
  type: 'alert_set',
  summary: `note ${n}`,
  data: { n },
})

it('writes the entries of a timed-out ledger script and flush once, sent again', {
  timeout: 50_000,
}, async () => {
  const cluster = await startRedisCluster()
  const prefix = `buffered-${randomUUID()}:`
  const store = redisStore({ cluster: { nodes: cluster.nodes }, prefix, commandTimeoutMs: 200 })
  const nodes = cluster.nodes.map((node) => new Redis(node.port, node.host))
  const reader = new Cluster(cluster.nodes)
  /** Every node holds writes back 800 ms, then runs them. */
  const pause = async () => {
    await Promise.all(nodes.map((node) => node.call('CLIENT', 'PAUSE', '800', 'WRITE')))
    await sleep(20)
  }
  try {
    await store.createAgent(testAgentRecord('paused', 5_000_000))

    await pause()
    store.appendAudit(note(1))
    await expect(store.updateAgent('paused', { capMicros: 6_000_000 }, Date.now())).rejects.toThrow(
      StoreUnavailableError,
    )
    await sleep(900)
    await pause()
    store.appendAudit(note(2))
    await expect(store.flush()).rejects.toThrow(StoreUnavailableError)
    await sleep(900)
    await store.updateAgent('paused', { capMicros: 7_000_000 }, Date.now())

    expect(await store.readAudit('paused')).toEqual([
      { ...note(1), seq: 1 },
      { ...note(2), seq: 2 },
    ])
    expect(await reader.zrange(clusterKeys(prefix).auditIds('paused'), '0', '-1')).toHaveLength(2)
  } finally {
    for (const node of nodes) node.disconnect()
    reader.disconnect()
    await store.close()
    await cluster.dispose()
  }
})
