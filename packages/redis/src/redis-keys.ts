// Key names of the Redis store, all under one prefix so that several deployments (or test
// runs) can share a Redis. Handles are letters, digits, ".", "_" and "-" (validated by the
// core), so putting the handle last keeps every key unambiguous.

export interface RedisKeys {
  /** The six keys of an agent's ledger, in the order the ledger scripts take them. */
  ledger(handle: string): [string, string, string, string, string, string]
  activity(handle: string): string
  marks(handle: string): string
  credential(credentialHash: string): string
  /** Sorted set of every handle by creation time. */
  agents: string
  /** Sorted set of revoked handles by revocation time (read again after a reconnect). */
  revocations: string
  /** The pub/sub channel of StoreEvents. */
  channel: string
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    ledger: (handle) => [
      `${prefix}agent:${handle}`,
      `${prefix}holds:${handle}`,
      `${prefix}holdamt:${handle}`,
      `${prefix}done:${handle}`,
      `${prefix}donetime:${handle}`,
      `${prefix}audit:${handle}`,
    ],
    activity: (handle) => `${prefix}activity:${handle}`,
    marks: (handle) => `${prefix}marks:${handle}`,
    credential: (credentialHash) => `${prefix}cred:${credentialHash}`,
    agents: `${prefix}agents`,
    revocations: `${prefix}revocations`,
    channel: `${prefix}events`,
  }
}
