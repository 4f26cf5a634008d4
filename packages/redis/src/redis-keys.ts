// Key names of the Redis store, all under one prefix so that several deployments (or test
// runs) can share a Redis. Handles are letters, digits, ".", "_" and "-" (validated by the
// core), so putting the handle last keeps every key unambiguous. The Lua `agent_keys`
// (redis-lua-ledger.ts) builds the same names, for the scripts that find agents themselves.

export interface RedisKeys {
  /** The six keys of an agent's ledger, in the order the ledger scripts take them. */
  ledger(handle: string): [string, string, string, string, string, string]
  /** The agent's audit log (a list of JSON entries). */
  audit(handle: string): string
  activity(handle: string): string
  marks(handle: string): string
  credential(credentialHash: string): string
  /** Sorted set of every handle by creation time. */
  agents: string
  /** Sorted set of revoked handles by revocation time (read again after a reconnect). */
  revocations: string
  /** The pub/sub channel of StoreEvents. */
  channel: string
  prefix: string
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    ledger: (handle) => [
      `${prefix}agent:${handle}`,
      `${prefix}hold:${handle}`,
      `${prefix}holdexp:${handle}`,
      `${prefix}holddone:${handle}`,
      `${prefix}holdprune:${handle}`,
      `${prefix}audit:${handle}`,
    ],
    audit: (handle) => `${prefix}audit:${handle}`,
    activity: (handle) => `${prefix}activity:${handle}`,
    marks: (handle) => `${prefix}marks:${handle}`,
    credential: (credentialHash) => `${prefix}cred:${credentialHash}`,
    agents: `${prefix}agents`,
    revocations: `${prefix}revocations`,
    channel: `${prefix}events`,
    prefix,
  }
}
