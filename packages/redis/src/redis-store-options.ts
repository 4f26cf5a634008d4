// The options of redisStore, checked at the boundary: a typo in a timeout must not become a
// kill switch that waits forever or never waits.

import { InvalidConfigError } from '@killswitch/core'
import type { Redis } from 'ioredis'

/** A node of a Redis Cluster: `redis://host:port`, or host and port. */
export type ClusterNode = string | { host: string; port: number }

/** Options of {@link redisStore}: give `url`, `client` or `cluster`. */
export interface RedisStoreOptions {
  /**
   * A Redis Cluster: some of its masters (ioredis discovers the rest). Each agent's keys live
   * in one slot (`{a:<handle>}`), each budget's in one (`{b:<id>}`); a reservation over
   * several slots is held slot by slot (see redis-scripts-cluster.ts). Approvals are not
   * available on a cluster yet (their calls fail with StoreUnavailableError).
   */
  cluster?: { nodes: ClusterNode[] }
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`; the store opens its own connections. */
  url?: string
  /** Your own ioredis client. The store adds its scripts to it and leaves it open on close. */
  client?: Redis
  /** Prefix of every key and of the events channel, so deployments can share a Redis. Default `killswitch:`. */
  prefix?: string
  /** A command without a reply by then fails with StoreUnavailableError, in ms. Default 1000. */
  commandTimeoutMs?: number
  /** How long the first operation waits for the first connection, in ms. Default 2000. */
  connectTimeoutMs?: number
  /**
   * How long a revocation waits for a replica to acknowledge it (`WAIT 1`), in ms, when the
   * primary has replicas: unacknowledged, it is not reported written (StoreUnavailableError;
   * the kill switch retries it). Less than commandTimeoutMs (the WAIT is one command);
   * default half of it (500). A primary without replicas is not waited for.
   */
  replicaTimeoutMs?: number
  /**
   * How long settled and released holds are remembered (a repeated settle is a no-op), in ms.
   * Default 24 hours. Lapsed holds are kept 7 times longer, so a late settlement can still
   * correct their charge. Past that they are forgotten in small batches.
   */
  holdRetentionMs?: number
  /**
   * Whose clock judges when a hold's lease runs out. `server` (default): Redis's own clock
   * (`TIME`), one clock for the whole fleet, so a machine whose clock runs ahead cannot
   * lapse another machine's live holds. `caller`: each request's `now` (deterministic tests).
   */
  clock?: 'server' | 'caller'
  /**
   * Off by default: the store refuses a Redis that can lose acknowledged writes (no
   * append-only file) or drop keys (an eviction policy other than noeviction), because a
   * lost key is lost spend or a revoked credential come back to life. `true` accepts that
   * risk (a cache-only Redis in development).
   */
  allowVolatile?: boolean
  /**
   * How long audit entries are kept, in ms of the store's clock (Redis's `TIME` by default);
   * older ones are deleted in small batches: the reserving agent's by its reserve, every other
   * agent's by a background pass a few agents at a time (at most once a second). Default: kept
   * for good, the audit log being the record of what was spent (as the sqlite store).
   */
  auditRetentionMs?: number
  /**
   * Off by default (no count: use `auditRetentionMs`). When set, each agent's log keeps only
   * its newest entries past this count: the older ones are deleted as new ones are written,
   * whatever their age. An explicit bound on Redis memory, at the cost of the oldest records.
   */
  maxAuditEntriesPerAgent?: number
  /**
   * Off by default. When on, and only while Redis is unreachable: activity windows return just
   * the new event (runaway detection sees no history), alert marks return false (no alert
   * fires), and audit entries stay buffered in memory (flush() resolves). Everything that
   * admits spend or reports state still fails closed: reserve, settle, release, revoke,
   * create, update and every read. It never lets a call through that the cap or a revocation
   * would refuse. Warns on creation.
   */
  failOpen?: boolean
}

export interface ResolvedOptions {
  url: string | undefined
  cluster: { host: string; port: number }[] | undefined
  client: Redis | undefined
  prefix: string
  commandTimeoutMs: number
  connectTimeoutMs: number
  replicaTimeoutMs: number
  holdRetentionMs: number
  maxAuditEntriesPerAgent: number | undefined
  auditRetentionMs: number | undefined
  failOpen: boolean
  clock: 'server' | 'caller'
  allowVolatile: boolean
  /** Where Redis is, for messages: never the password. */
  label: string
}

const DEFAULTS = {
  commandTimeoutMs: 1_000,
  connectTimeoutMs: 2_000,
  holdRetentionMs: 24 * 3_600_000,
}

/** Bounds without a fixed default: none (or, for replicaTimeoutMs, one derived) unless set. */
const OPTIONAL = ['maxAuditEntriesPerAgent', 'auditRetentionMs', 'replicaTimeoutMs'] as const

/** Lapsed holds are kept 7 times the retention: a year of it is past any late settlement. */
const MAX_RETENTION_MS = 365 * 24 * 3_600_000

export function resolveOptions(options: RedisStoreOptions): ResolvedOptions {
  const { url, client } = options ?? {}
  const cluster = options?.cluster === undefined ? undefined : clusterNodes(options.cluster)
  if ([url, client, cluster].filter((given) => given !== undefined).length !== 1) {
    throw new InvalidConfigError(
      'url',
      "redisStore needs exactly one of { url: 'redis://host:6379' }, { client: new Redis(...) } or { cluster: { nodes: ['redis://host:7000'] } }.",
    )
  }
  if (
    url !== undefined &&
    (typeof url !== 'string' || !URL.canParse(url) || !/^rediss?:$/.test(new URL(url).protocol))
  ) {
    throw new InvalidConfigError(
      'url',
      'redisStore url must look like redis://[user:password@]host:port[/db] or rediss://...',
    )
  }
  const prefix = options.prefix ?? 'killswitch:'
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new InvalidConfigError(
      'prefix',
      "redisStore prefix must be a non-empty string, e.g. 'killswitch:'.",
    )
  }
  if (cluster && /[{}]/.test(prefix)) {
    throw new InvalidConfigError(
      'prefix',
      'redisStore prefix must not contain { or } with a cluster: the keys use hash tags.',
    )
  }
  const clock = options.clock ?? 'server'
  if (clock !== 'server' && clock !== 'caller') {
    throw new InvalidConfigError(
      'clock',
      `redisStore option clock must be 'server' or 'caller' (got ${String(clock)}).`,
    )
  }
  const positive = (key: keyof typeof DEFAULTS | (typeof OPTIONAL)[number]) => {
    const value = options[key]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new InvalidConfigError(
        key,
        `redisStore option ${key} must be a positive integer (got ${String(value)}).`,
      )
    }
    return value
  }
  const numbers = { ...DEFAULTS }
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    numbers[key] = positive(key) ?? DEFAULTS[key]
  }
  const [maxAuditEntriesPerAgent, auditRetentionMs, replicaTimeout] = OPTIONAL.map(positive)
  // The WAIT must answer before the command's own deadline, or a slow ack reads as an outage.
  const replicaTimeoutMs = replicaTimeout ?? Math.max(1, Math.floor(numbers.commandTimeoutMs / 2))
  if (replicaTimeout !== undefined && replicaTimeout >= numbers.commandTimeoutMs) {
    throw new InvalidConfigError(
      'replicaTimeoutMs',
      `redisStore option replicaTimeoutMs must be less than commandTimeoutMs (${numbers.commandTimeoutMs}; got ${replicaTimeoutMs}).`,
    )
  }
  if (numbers.holdRetentionMs > MAX_RETENTION_MS) {
    throw new InvalidConfigError(
      'holdRetentionMs',
      `redisStore option holdRetentionMs must be at most ${MAX_RETENTION_MS} ms (365 days; got ${numbers.holdRetentionMs}).`,
    )
  }
  return {
    url,
    cluster,
    client,
    prefix,
    ...numbers,
    replicaTimeoutMs,
    maxAuditEntriesPerAgent,
    auditRetentionMs,
    failOpen: options.failOpen === true,
    clock,
    allowVolatile: options.allowVolatile === true,
    label: cluster
      ? `cluster ${cluster.map((node) => `${node.host}:${node.port}`).join(',')}`
      : url !== undefined
        ? describeUrl(url)
        : describeClient(client as Redis),
  }
}

function describeUrl(url: string): string {
  const parsed = new URL(url)
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
}

function describeClient(client: Redis): string {
  const { host, port } = client.options
  return `${host ?? 'localhost'}:${port ?? 6379}`
}

function clusterNodes(cluster: { nodes: ClusterNode[] }): { host: string; port: number }[] {
  const nodes = cluster?.nodes
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new InvalidConfigError(
      'cluster.nodes',
      "redisStore cluster.nodes must list at least one node, e.g. ['redis://127.0.0.1:7000'].",
    )
  }
  return nodes.map((node, i) => {
    if (typeof node === 'string' && URL.canParse(node) && new URL(node).protocol === 'redis:') {
      const parsed = new URL(node)
      return { host: parsed.hostname, port: Number(parsed.port || 6379) }
    }
    if (
      typeof node === 'object' &&
      node !== null &&
      typeof node.host === 'string' &&
      Number.isSafeInteger(node.port) &&
      node.port > 0 &&
      node.port < 65536
    ) {
      return { host: node.host, port: node.port }
    }
    throw new InvalidConfigError(
      `cluster.nodes.${i}`,
      `redisStore cluster.nodes.${i} must be redis://host:port or { host, port } (got ${String(node)}).`,
    )
  })
}
