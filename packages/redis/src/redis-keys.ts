// Key names of the Redis store, all under one prefix so that several deployments (or test
// runs) can share a Redis. Handles are letters, digits, ".", "_" and "-" (validated by the
// core), so putting the handle last keeps every key unambiguous. The Lua `agent_keys`
// (redis-lua-ledger.ts) builds the same names, for the scripts that find agents themselves.

export interface RedisKeys {
  /** The six keys of an agent's ledger, in the order the ledger scripts take them. */
  ledger(handle: string): [string, string, string, string, string, string]
  /** The agent's audit log (a list of JSON entries). */
  audit(handle: string): string
  /**
   * The buffer ids of the agent's last audit entries written (a sorted set by seq), so that
   * an entry sent again is written once. Built by the Lua push_buffered from the audit key.
   */
  auditIds(handle: string): string
  activity(handle: string): string
  /** The activity window's count of events ever appended, and how far each process read. */
  activityState(handle: string): string
  marks(handle: string): string
  credential(credentialHash: string): string
  /** Sorted set of every handle by creation time. */
  agents: string
  /** Sorted set of revoked handles by revocation time (read again after a reconnect). */
  revocations: string
  /** The pub/sub channel of StoreEvents. */
  channel: string
  prefix: string
  /** The prefix of the usage keys the agent's scripts reach (its slot's, in a cluster). */
  levelPrefix(handle: string): string
  /** Cluster only: the pending holds and the outbox of an agent (redis-scripts-cluster.ts). */
  pending(handle: string): string
  outbox(handle: string): string
  /** A budget's slot prefix, record, holds and holds-prune keys (all one slot in a cluster). */
  budget(id: string): {
    slot: string
    record: string
    holds: string
    prune: string
    expiry: string
  }
  /** The usage hash of a window key (`agent:<handle>/...`, `budget:<id>/...`). */
  usage(windowKey: string): string
  /** Counters of the global indexes (cluster). */
  agentSeq: string
  budgets: string
  budgetSeq: string
  /** Cluster: the agent of an approval id, and the global order of approvals. */
  approvalAgent(id: string): string
  approvals: string
  approvalSeq: string
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
    auditIds: (handle) => `${prefix}auditids:${handle}`,
    activity: (handle) => `${prefix}activity:${handle}`,
    activityState: (handle) => `${prefix}actstate:${handle}`,
    marks: (handle) => `${prefix}marks:${handle}`,
    credential: (credentialHash) => `${prefix}cred:${credentialHash}`,
    agents: `${prefix}agents`,
    revocations: `${prefix}revocations`,
    channel: `${prefix}events`,
    prefix,
    levelPrefix: () => prefix,
    pending: (handle) => `${prefix}pending:${handle}`,
    outbox: (handle) => `${prefix}outbox:${handle}`,
    budget: (id) => ({
      slot: prefix,
      record: `${prefix}budget:${id}`,
      holds: `${prefix}bholds:${id}`,
      prune: `${prefix}bprune:${id}`,
      expiry: `${prefix}bexpiry:${id}`,
    }),
    usage: (windowKey) => `${prefix}usage:${windowKey}`,
    agentSeq: `${prefix}agentseq`,
    budgets: `${prefix}budgets`,
    budgetSeq: `${prefix}budgetseq`,
    approvalAgent: (id) => `${prefix}approvalagent:${id}`,
    approvals: `${prefix}approvals`,
    approvalSeq: `${prefix}approvalseq`,
  }
}

/**
 * The keys in a Redis Cluster: every key of one agent in its slot (hash tag `{a:<handle>}`),
 * every key of one budget, its windows' usage included, in its slot (`{b:<id>}`), a
 * credential's index entry in its own (`{c:<hash>}`), the global indexes in one (`{idx}`).
 * Inside a slot the names are the single-node names, so the scripts are the same.
 */
export function clusterKeys(prefix: string): RedisKeys {
  const a = (handle: string) => `${prefix}{a:${handle}}`
  const b = (id: string) => `${prefix}{b:${id}}`
  const agentKeys = (handle: string) => redisKeys(a(handle))
  return {
    ledger: (handle) => agentKeys(handle).ledger(handle),
    audit: (handle) => agentKeys(handle).audit(handle),
    auditIds: (handle) => agentKeys(handle).auditIds(handle),
    activity: (handle) => agentKeys(handle).activity(handle),
    activityState: (handle) => agentKeys(handle).activityState(handle),
    marks: (handle) => agentKeys(handle).marks(handle),
    credential: (credentialHash) => `${prefix}{c:${credentialHash}}cred`,
    agents: `${prefix}{idx}agents`,
    revocations: `${prefix}{idx}revocations`,
    channel: `${prefix}events`,
    prefix,
    levelPrefix: a,
    pending: (handle) => agentKeys(handle).pending(handle),
    outbox: (handle) => agentKeys(handle).outbox(handle),
    budget: (id) => ({ ...redisKeys(b(id)).budget(id), slot: b(id) }),
    usage: (windowKey) => {
      const agent = /^agent:([^/]+)\//.exec(windowKey)
      if (agent) return `${a(agent[1] as string)}usage:${windowKey}`
      const id = windowKey.slice('budget:'.length, windowKey.lastIndexOf('/'))
      return `${b(id)}usage:${windowKey}`
    },
    agentSeq: `${prefix}{idx}agentseq`,
    budgets: `${prefix}{idx}budgets`,
    budgetSeq: `${prefix}{idx}budgetseq`,
    approvalAgent: (id) => `${prefix}{ap:${id}}agent`,
    approvals: `${prefix}{idx}approvals`,
    approvalSeq: `${prefix}{idx}approvalseq`,
  }
}
