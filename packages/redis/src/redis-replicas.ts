// Redis replicates asynchronously: the primary acknowledges a write before any replica has
// it, and a failover (Sentinel promoting a replica) loses what the replica never got. For a
// revocation that is a revoked credential working again (red team rt26), so a revocation
// counts as written only once a replica acknowledged it (WAIT). Settlements are not waited
// for (the hot path): the server's `min-replicas-to-write` is the guard there (README).

import type { Redis } from 'ioredis'

export interface Replication {
  /**
   * The primary has replicas, or had one recently: a replica cut off a moment ago is gone
   * from `connected_slaves` (it is 0 right when a revocation matters most), but the
   * replication backlog stays active (`repl-backlog-ttl`, an hour by default). Only a
   * primary that never had one (one Redis, durable by its append-only file) waits for none.
   */
  replicas: boolean
  /** `min-replicas-to-write` is set (INFO then reports `min_slaves_good_slaves`). */
  refusesWritesAlone: boolean
}

/** What `INFO` (or `INFO replication`) says of the server's replicas. */
export function replicationOf(info: string): Replication {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
  return {
    replicas: Number(field('connected_slaves') ?? 0) > 0 || field('repl_backlog_active') === '1',
    refusesWritesAlone: field('min_slaves_good_slaves') !== undefined,
  }
}

/** The warning, once, for a primary with replicas that accepts writes none of them gets. */
export const REPLICAS_WARNING =
  'redisStore: this Redis has replicas but min-replicas-to-write is 0, so a primary cut off from them keeps acknowledging settlements that a failover loses (spend under-recorded). ' +
  'Revocations wait for a replica; for the rest set min-replicas-to-write 1 and min-replicas-max-lag 10 on the primary (see @killswitch/redis README, "Replicas and failover").'

/**
 * One command on the node that serves `key` (on a cluster: that key's master), on the very
 * connection the store's scripts of that key ran on: WAIT covers the writes of its own
 * connection only. A pipeline with the key is how ioredis routes a keyless command there.
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
