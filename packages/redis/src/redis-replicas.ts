// Redis replicates asynchronously: the primary acknowledges a write before any replica has
// it, and a failover (Sentinel promoting a replica) loses what the replica never got. For a
// revocation that is a revoked credential working again (red team rt26), so a revocation
// counts as written only once a replica acknowledged it (WAIT). Settlements are not waited
// for (the hot path): the server's `min-replicas-to-write` is the guard there (README).

import type { Redis } from 'ioredis'
import { untilConnected } from './redis-connection.js'

export interface Replication {
  /**
   * The primary has replicas, or had one recently: a replica cut off a moment ago is gone
   * from `connected_slaves` (it is 0 right when a revocation matters most), but the
   * replication backlog stays active (`repl-backlog-ttl`, an hour by default). Only a
   * primary that never had one (one Redis, durable by its append-only file) waits for none.
   */
  replicas: boolean
  /** How many replicas are connected now. */
  connected: number
  /** The primary's replication id: one per primary (a cluster has several). */
  primary: string
  /** `min-replicas-to-write` is set (INFO then reports `min_slaves_good_slaves`). */
  refusesWritesAlone: boolean
}

/** What `INFO` (or `INFO replication`) says of the server's replicas. */
export function replicationOf(info: string): Replication {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
  const connected = Number(field('connected_slaves') ?? 0)
  return {
    replicas: connected > 0 || field('repl_backlog_active') === '1',
    connected,
    primary: field('master_replid') ?? '',
    refusesWritesAlone: field('min_slaves_good_slaves') !== undefined,
  }
}

/** The warning, once, for a primary with replicas that accepts writes none of them gets. */
export const REPLICAS_WARNING =
  'redisStore: this Redis has replicas but min-replicas-to-write is 0, so a primary cut off from them keeps acknowledging settlements that a failover loses (spend under-recorded). ' +
  'Revocations wait for a replica; for the rest set min-replicas-to-write 1 and min-replicas-max-lag 10 on the primary (see @killswitch/redis README, "Replicas and failover").'

/**
 * One command on the node that serves `key` (on a cluster: that key's master). A pipeline
 * with the key is how ioredis routes a keyless command there.
 */
export async function onKeyNode(
  client: Redis,
  key: string,
  command: string,
  ...args: (string | number)[]
): Promise<unknown> {
  const replies = await client
    .pipeline()
    .exists(key)
    .call(command, ...args)
    .exec()
  const [error, reply] = replies?.[1] ?? [new Error(`no reply to ${command}`)]
  if (error) throw error
  return reply
}

/** How long a WAIT's marker key lives: only its write matters, never its value. */
const MARK_TTL_MS = 60_000

export interface ReplicaWaitsOptions {
  /** A new connection to the store's Redis (or cluster): the WAITs' own. */
  connect(): Redis
  /** How long a WAIT waits for a replica (replicaTimeoutMs). */
  timeoutMs: number
  /** How long the first connection is waited for (connectTimeoutMs). */
  connectTimeoutMs: number
  /** Runs a command with the store's deadline; a failure becomes StoreUnavailableError. */
  call<T>(command: () => Promise<T>): Promise<T>
}

/**
 * The store's WAITs for a replica. A WAIT blocks its connection until it answers (up to
 * replicaTimeoutMs): on the connection every call of the process shares, a replica away
 * stalled honest calls of every other agent, and refused most (red team rt27: 52,752 in 8 s
 * fell to 16, with 5 revocations retried every 100 ms, each with its own WAIT). So WAITs run
 * on a connection of their own (made on first use), one at a time per primary.
 *
 * Redis's WAIT waits for the replication offset of its connection's last write, and that
 * offset counts every write the primary made before, on any connection. So each WAIT here
 * follows a small write of its own to the same node (a marker key in the revoked agent's
 * slot): it covers every revocation written before it was sent, and the revocations waiting
 * meanwhile all ride on the next one.
 */
export class ReplicaWaits {
  readonly #options: ReplicaWaitsOptions
  #client: Redis | undefined
  #everReady = false
  /** Per primary: the WAIT out now, and the next (joined until it is sent). */
  readonly #lines = new Map<string, { out?: Promise<boolean>; next?: Promise<boolean> }>()

  constructor(options: ReplicaWaitsOptions) {
    this.#options = options
  }

  /**
   * Whether a replica of `primary` acknowledged every write made to it before this call;
   * `markKey`: a key on that primary (the revoked agent's slot), for the marker write.
   */
  acknowledged(primary: string, markKey: string): Promise<boolean> {
    const line = this.#lines.get(primary) ?? {}
    this.#lines.set(primary, line)
    if (line.next) return line.next
    const out = line.out
    const send = async (): Promise<boolean> => {
      await out?.catch(() => undefined)
      // Sent from here on: a write made after this joins the next WAIT.
      const sent = line.next
      line.out = sent
      line.next = undefined
      try {
        return await this.#wait(markKey)
      } finally {
        if (line.out === sent) line.out = undefined
        if (!line.out && !line.next) this.#lines.delete(primary)
      }
    }
    line.next = send()
    return line.next
  }

  close(): void {
    this.#client?.disconnect()
  }

  #wait(markKey: string): Promise<boolean> {
    const { timeoutMs, connectTimeoutMs } = this.#options
    return this.#options.call(async () => {
      const client = this.#connection()
      await untilConnected(client, { everReady: this.#everReady, timeoutMs: connectTimeoutMs })
      // One pipeline with a key: on a cluster, both go to the node serving it.
      const replies = await client
        .pipeline()
        .set(markKey, '1', 'PX', MARK_TTL_MS)
        .call('wait', 1, timeoutMs)
        .exec()
      const failed = (replies ?? []).find(([error]) => error)
      if (failed || !replies) throw failed?.[0] ?? new Error('no reply to WAIT')
      return Number(replies[1]?.[1]) >= 1
    })
  }

  #connection(): Redis {
    if (!this.#client) {
      const client = this.#options.connect()
      client.on('error', () => {})
      client.on('ready', () => {
        this.#everReady = true
      })
      this.#client = client
    }
    return this.#client
  }
}
