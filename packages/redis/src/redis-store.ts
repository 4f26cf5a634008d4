// The kill switch store for fleets: every process on every machine shares one Redis. Each
// ledger operation is one Lua script, a port of core's ledger (redis-scripts.ts, called as
// redis-script-calls.ts says): one round trip each. Revocations are broadcast with pub/sub
// (redis-event-feed.ts), an unreachable Redis fails closed, fast (redis-connection.ts), and a
// Redis that can lose acknowledged writes is refused (redis-durability.ts).

import { randomUUID } from 'node:crypto'
import {
  type ActivityEvent,
  AgentExistsError,
  AgentNotFoundError,
  type AgentRecord,
  AgentRevokedError,
  ApprovalNotFoundError,
  type AuditEntry,
  ConcurrentUpdateError,
  InvalidConfigError,
  KillSwitchError,
  type NewAgentRecord,
  type ReleaseRequest,
  type ReleaseResult,
  type ReserveRequest,
  type ReserveResult,
  RevocationUnreplicatedError,
  type SettleRequest,
  type SettleResult,
  type Store,
  type StoreEvent,
  StoreUnavailableError,
  sameCreation,
  type WindowPer,
} from '@killswitch/core'
import { Cluster, Redis } from 'ioredis'
import { ActivityMirror, type ActivitySend } from './redis-activity-mirror.js'
import { AuditBuffer } from './redis-audit-buffer.js'
import { AuditRetentionPass } from './redis-audit-retention.js'
import { ClusterRouting, type LedgerReply } from './redis-cluster-routing.js'
import {
  connectionOptions,
  subscriberOptions,
  untilConnected,
  withDeadline,
} from './redis-connection.js'
import { durabilityProblems, versionProblem, volatileMessage } from './redis-durability.js'
import { RedisEventFeed } from './redis-event-feed.js'
import { clusterKeys, type RedisKeys, redisKeys } from './redis-keys.js'
import {
  budgetIdError,
  checkHoldId,
  endedHold,
  invalidField,
  missingBudget,
} from './redis-ledger-errors.js'
import { toAgentRecord, toApprovalRecord, toAuditEntry, toBudgetRecord } from './redis-records.js'
import { onKeyNode, REPLICAS_WARNING, ReplicaWaits, replicationOf } from './redis-replicas.js'
import {
  type AgentPatch,
  type ApprovalRecord,
  type BudgetRecord,
  type DecideApprovalRequest,
  type LeaveApprovalRequest,
  type OpenApprovalRequest,
  type RenewRequest,
  type ScriptCall,
  type ScriptCalls,
  scriptCalls,
  type UsageRecord,
} from './redis-script-calls.js'
import { SCRIPTS } from './redis-scripts.js'
import { CLUSTER_SCRIPTS } from './redis-scripts-cluster.js'
import { VIEW_SCRIPTS } from './redis-scripts-views.js'
import {
  type RedisStoreOptions,
  type ResolvedOptions,
  resolveOptions,
} from './redis-store-options.js'
import { ZoneWindows } from './redis-zone-windows.js'

export type { RedisStoreOptions } from './redis-store-options.js'

/**
 * A store in Redis, shared by every process of a fleet: atomic Lua scripts for the ledger,
 * pub/sub for revocations, fail closed when Redis cannot be reached. Give it a `url` (it
 * opens and closes its own connections) or your own ioredis `client` (left open on close).
 * Redis must persist its data (`appendonly yes`) and never evict (`maxmemory-policy
 * noeviction`): the store refuses it otherwise, unless `allowVolatile: true`.
 *
 * @example
 * import { createKillSwitch } from '@killswitch/core'
 * import { redisStore } from '@killswitch/redis'
 * const ks = createKillSwitch({ store: redisStore({ url: process.env.REDIS_URL }) })
 */
export function redisStore(options: RedisStoreOptions): Store {
  return new RedisStore(resolveOptions(options))
}

type Invoke = (...args: (string | number)[]) => Promise<unknown>

/**
 * A Redis the store refuses (it can lose acknowledged writes, or is too old to run a
 * revocation), never covered by failOpen.
 */
class VolatileRedisError extends StoreUnavailableError {}

/** failOpen covers an unreachable Redis only, never a refused one. */
const unreachable = (error: unknown) =>
  StoreUnavailableError.isInstance(error) && !(error instanceof VolatileRedisError)

const FAIL_OPEN_WARNING =
  'redisStore({ failOpen: true }): while Redis is unreachable, activity windows, alert marks and audit writes are skipped or kept in memory instead of failing. ' +
  'Reserves, settlements, revocations and reads still fail closed. Runaway detection and threshold alerts are blind during an outage.'

class RedisStore implements Store {
  readonly kind = 'redis'
  readonly #options: ResolvedOptions
  readonly #client: Redis
  readonly #keys: RedisKeys
  readonly #calls: ScriptCalls
  /** On a Redis Cluster (its ioredis Cluster client stands in for #client): its routing. */
  readonly #cluster: ClusterRouting | undefined
  readonly #origin = randomUUID()
  readonly #listeners = new Set<(event: StoreEvent) => void>()
  readonly #activity = new ActivityMirror()
  /** Every agent's aged audit entries, pruned in the background (with auditRetentionMs). */
  readonly #auditRetention: AuditRetentionPass | undefined
  #subscriber: Redis | undefined
  #feed: RedisEventFeed | undefined
  readonly #audit = new AuditBuffer()
  #flushTimer: NodeJS.Immediate | NodeJS.Timeout | undefined
  #everReady = false
  #closed = false
  /** The durability check of the current connection (run again after each reconnect). */
  #durable: Promise<void> | undefined
  /** REPLICAS_WARNING was given (once per store). */
  #warnedReplicas = false
  /** Revocations' WAITs for a replica, on a connection of their own (redis-replicas.ts). */
  readonly #replicaWaits: ReplicaWaits
  /** Each time zone's current windows, sent with every reserve (one entry per zone seen). */
  readonly #zones: ZoneWindows

  constructor(options: ResolvedOptions) {
    this.#options = options
    this.#zones = new ZoneWindows(options.clock)
    const cluster = options.cluster !== undefined
    this.#keys = cluster ? clusterKeys(options.prefix) : redisKeys(options.prefix)
    this.#calls = scriptCalls({ ...options, keys: this.#keys, origin: this.#origin })
    this.#client =
      options.client ??
      (options.cluster
        ? (new Cluster(options.cluster, {
            redisOptions: connectionOptions(options),
            enableOfflineQueue: false,
            clusterRetryStrategy: (times: number) => Math.min(50 * times, 1_000),
          }) as unknown as Redis)
        : new Redis(options.url as string, connectionOptions(options)))
    this.#cluster = cluster
      ? new ClusterRouting({
          client: this.#client,
          keys: this.#keys,
          calls: this.#calls,
          ledger: {
            keys: this.#keys,
            send: (operation, call) => this.#send(operation, call),
            header: (now) => this.#calls.header(now),
            zones: () => this.#zones.toJSON(),
            refresh: (zones, storeNow) => this.#zones.learn(zones, storeNow),
          },
          call: (operation, command) => this.#call(operation, command),
          send: (operation, call) => this.#send(operation, call),
          unavailable: (operation, error) => this.#unavailable(operation, error),
          takeBuffered: (handle) => this.#audit.take(handle),
          giveBack: (entries) => this.#audit.giveBack(entries),
        })
      : undefined
    if (options.auditRetentionMs !== undefined) {
      this.#auditRetention = new AuditRetentionPass({
        agents: (start, stop) =>
          this.#call('prune the audit log', () =>
            this.#client.zrange(this.#keys.agents, String(start), String(stop)),
          ),
        prune: async (handle, now) =>
          (await this.#run('prune the audit log', this.#calls.auditPrune(handle, now))) as number,
      })
    }
    // Our own connections need an error listener, or ioredis prints every reconnect attempt.
    if (!options.client) this.#client.on('error', () => {})
    this.#everReady = this.#client.status === 'ready'
    this.#client.on('ready', () => {
      this.#everReady = true
      this.#durable = undefined
    })
    const scripts = { ...SCRIPTS, ...VIEW_SCRIPTS, ...(this.#cluster ? CLUSTER_SCRIPTS : {}) }
    for (const [name, definition] of Object.entries(scripts)) {
      if (typeof (this.#client as unknown as Record<string, unknown>)[name] !== 'function') {
        this.#client.defineCommand(name, definition)
      }
    }
    this.#replicaWaits = new ReplicaWaits({
      connect: () =>
        this.#cluster
          ? ((this.#client as unknown as Cluster).duplicate() as unknown as Redis)
          : this.#client.duplicate(),
      timeoutMs: options.replicaTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      call: (command) => this.#call('wait for a replica', command),
    })
    if (options.failOpen) process.emitWarning(FAIL_OPEN_WARNING, { code: 'KILLSWITCH_FAIL_OPEN' })
  }

  async createAgent(record: NewAgentRecord): Promise<AgentRecord> {
    const call = this.#calls.create(record)
    // On a cluster: the agent first (in its slot), then its credential and the index.
    this.#cluster?.createCall(call)
    const reply = (await this.#run('create an agent', call)) as LedgerReply
    if (reply[0] === 'ok') await this.#cluster?.indexAgent(record)
    if (reply[0] === 'invalid') throw invalidField(String(reply[1]), fieldOf(record, reply[1]))
    if (reply[0] === 'exists') return this.#createdBefore(record)
    return toAgentRecord(reply[1])
  }

  /**
   * A create that found the agent there already. Its retry (the same record: the same
   * credential, cap, policy, creation time; core's `sameCreation`) answers the agent, as the
   * first attempt would have: a create that timed out and that Redis ran when it woke (red
   * team rt41b), or on a cluster one whose second step (the credential and the agents index)
   * failed, which the retry finishes. Any other create of the handle is refused.
   */
  async #createdBefore(record: NewAgentRecord): Promise<AgentRecord> {
    const found = await this.getAgent(record.handle, record.createdAt)
    if (!found || !sameCreation(found, record)) throw new AgentExistsError(record.handle)
    await this.#cluster?.indexAgent(found)
    return found
  }

  async getAgent(handle: string, now: number): Promise<AgentRecord | undefined> {
    return this.#found(await this.#run('read an agent', this.#calls.get(handle, now)), now)
  }

  async findAgentByCredentialHash(hash: string, now: number): Promise<AgentRecord | undefined> {
    if (this.#cluster) {
      if (!Number.isSafeInteger(now) || now < 0) throw invalidField('now', now)
      const handle = await this.#cluster.credentialHandle(hash)
      if (handle === null) return undefined
      const agent = await this.getAgent(handle, now)
      return agent?.credentialHash === hash ? agent : undefined
    }
    return this.#found(await this.#run('look up a credential', this.#calls.find(hash, now)), now)
  }

  /** Every agent, each swept as getAgent would: one script, one round trip. */
  async listAgents(now: number): Promise<AgentRecord[]> {
    if (this.#cluster) {
      if (!Number.isSafeInteger(now) || now < 0) throw invalidField('now', now)
      const handles = await this.#cluster.handles()
      const agents = await Promise.all(handles.map((handle) => this.getAgent(handle, now)))
      return agents.filter((agent) => agent !== undefined)
    }
    const reply = (await this.#run('list agents', this.#calls.list(now))) as LedgerReply
    if (reply[0] === 'invalid') throw invalidField('now', now)
    return (reply[1] as unknown[]).map(toAgentRecord)
  }

  async updateAgent(
    handle: string,
    patch: AgentPatch,
    now: number,
    audit?: AuditEntry,
  ): Promise<AgentRecord> {
    const call = this.#calls.update(handle, patch, now, audit)
    await this.#cluster?.checkBudgets(patch)
    const reply = await this.#ledger('update an agent', handle, call, {
      capMicros: patch.capMicros,
      now,
      ...Object.fromEntries(
        (patch.limits ?? []).map((l, i) => [`limits.${i}.amountMicros`, l?.amountMicros]),
      ),
      ...Object.fromEntries((patch.budgets ?? []).map((id, i) => [`budgets.${i}`, id])),
    })
    if (reply[0] === 'not_found') throw new AgentNotFoundError(handle)
    if (reply[0] === 'conflict') throw new ConcurrentUpdateError(handle)
    this.#publish({ type: 'updated', handle })
    return toAgentRecord(reply[1])
  }

  async revokeAgent(
    handle: string,
    reason: string,
    now: number,
    audit?: AuditEntry,
  ): Promise<{ agent: AgentRecord; alreadyRevoked: boolean }> {
    const call = this.#calls.revoke(handle, reason, now, audit)
    this.#cluster?.revokeCall(call)
    const reply = await this.#ledger('revoke an agent', handle, call, { now })
    if (reply[0] === 'not_found') throw new AgentNotFoundError(handle)
    const alreadyRevoked = reply[0] === 'already'
    const agent = toAgentRecord(reply[1])
    // The revocation as it was first written: a repeated revoke announces that one.
    const revoked: StoreEvent = {
      type: 'revoked',
      handle,
      reason: agent.revokedReason ?? reason,
      at: agent.revokedAt ?? now,
    }
    // This process's listeners hear each revocation once (the feed remembers those heard),
    // as soon as it is written: also when an earlier attempt wrote it and failed after.
    if (this.#feed?.remember(handle) ?? !alreadyRevoked) this.#publish(revoked)
    // On a cluster the announcement to other processes (the revocations index, then the
    // event) is a step of its own after the script, which may have failed after the
    // revocation was written (the revoke threw): so every revoke runs it, a repeated one
    // too. Running it twice is harmless: the index keeps its first entry and subscribers
    // publish a revocation once (redis-event-feed.ts). On one Redis the script did it all.
    await this.#cluster?.revoked(handle, this.#calls.event(revoked))
    // Last: this process and the others already stop the agent's calls; what waits for a
    // replica is only the answer "written". A repeated revoke waits again, so one that no
    // replica took is retried by the kill switch until one has it.
    await this.#onReplica(handle, alreadyRevoked)
    return { agent, alreadyRevoked }
  }

  /**
   * Resolves once a replica acknowledged the revocation just written (a primary with
   * replicas: redis-replicas.ts), else throws RevocationUnreplicatedError: in force, as every
   * process reads the primary, but lost if a replica is promoted. For revocations only (the
   * WAIT is a round trip more); it never holds up another command (ReplicaWaits).
   */
  async #onReplica(handle: string, alreadyRevoked: boolean): Promise<void> {
    const key = this.#keys.ledger(handle)[0] as string
    const timeoutMs = this.#options.replicaTimeoutMs
    let why: unknown
    try {
      const info = await this.#call('revoke an agent', () =>
        onKeyNode(this.#client, key, 'info', 'replication'),
      )
      const { replicas, connected, primary } = replicationOf(String(info))
      if (!replicas) return
      // None connected (its backlog still active after the last one left): a WAIT could
      // only time out, holding its line up for nothing.
      why = 'no replica is connected'
      if (connected > 0) {
        why = `no replica acknowledged it within ${timeoutMs} ms`
        if (await this.#replicaWaits.acknowledged(primary, `${key}:replicated`)) return
      }
    } catch (error) {
      // The script's reply said it is written: whatever failed after, it is on the primary.
      why = error
    }
    const detail = why instanceof Error ? why.message : String(why)
    throw new RevocationUnreplicatedError(
      {
        handle,
        alreadyRevoked,
        message: `Redis at ${this.#options.label} has the revocation of agent "${handle}" on its primary only (${detail}): a failover would lose it`,
      },
      why instanceof Error ? { cause: why } : undefined,
    )
  }

  /**
   * One script: one round trip, two when a calendar window rolled over since this process
   * last reserved (the script asks for that zone's new windows before writing anything).
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    checkHoldId(request.holdId)
    await this.#caughtUp()
    this.#auditRetention?.after(request.now)
    const fields = {
      amountMicros: request.amountMicros,
      ttlMs: request.ttlMs,
      now: request.now,
      'run.capMicros': request.run?.capMicros,
    }
    let sent: ActivitySend | undefined
    let reply = await this.#zoned('reserve', request.now, () => {
      sent = request.activity && this.#activity.send(request.handle, request.activity)
      const call = this.#calls.reserve(request, this.#zones.toJSON(), sent?.args)
      call.onReply = sent?.onReserveReply
      return this.#ledger('reserve', request.handle, call, fields)
    })
    if (this.#cluster && reply[0] === 'partial') {
      reply = await this.#cluster.reserveOnBudgets(request, reply, sent)
    } else if (this.#cluster && reply[0] === 'cap') {
      reply = await this.#cluster.refusedFigure(request, reply)
    }
    if (reply[0] === 'ok') {
      // The call's runaway activity, written by the script itself, only for a granted hold
      // (its window was applied to this process's copy as the reply came in).
      const activity = sent && (sent.window ?? (await this.#recoverActivity(sent)))
      return {
        ok: true,
        agent: toAgentRecord(reply[1]),
        expiresAt: Number(reply[2]),
        levels: (reply[3] as string[] | undefined) ?? [],
        ...(activity ? { activity } : {}),
      }
    }
    if (reply[0] === 'not_found') return { ok: false, reason: 'not_found' }
    if (reply[0] === 'ended') throw endedHold(request.holdId, String(reply[1]))
    if (reply[0] === 'revoked') {
      return { ok: false, reason: 'revoked', agent: toAgentRecord(reply[1]) }
    }
    const [level, budgetId, per, resetsAt, limit, spent, held] = reply[2] as string[]
    return {
      ok: false,
      reason: 'cap',
      agent: toAgentRecord(reply[1]),
      refusal: {
        level: level as 'agent' | 'budget',
        ...(budgetId ? { budgetId } : {}),
        ...(per ? { per: per as WindowPer } : {}),
        ...(resetsAt ? { resetsAt: Number(resetsAt) } : {}),
        limitMicros: Number(limit),
        spentMicros: Number(spent),
        heldMicros: Number(held),
      },
      availableMicros: Number(reply[3]),
    }
  }

  async createBudget(record: BudgetRecord): Promise<BudgetRecord> {
    const call = this.#onBudgetSlot(this.#calls.createBudget(record), record.id)
    const reply = (await this.#run('create a budget', call)) as LedgerReply
    if (reply[0] === 'invalid') {
      if (reply[2] === 'exists') throw budgetIdError(String(record.id), 'exists')
      const field = String(reply[1])
      const limit = /^limits\.(\d+)\./.exec(field)
      throw invalidField(field, limit ? record.limits[Number(limit[1])]?.amountMicros : record.id)
    }
    await this.#cluster?.index(this.#keys.budgets, 'seq', String(record.id))
    return record
  }

  async getBudget(id: string): Promise<BudgetRecord | undefined> {
    const [reply] = await this.#budgets('read a budget', [id])
    return toBudgetRecord(reply)
  }

  async listBudgets(): Promise<BudgetRecord[]> {
    const replies = await this.#budgets('list budgets', [])
    return replies.map(toBudgetRecord).filter((record) => record !== undefined)
  }

  async updateBudget(
    id: string,
    patch: { limits?: BudgetRecord['limits']; timeZone?: string },
    now: number,
  ): Promise<BudgetRecord> {
    const call = this.#onBudgetSlot(this.#calls.updateBudget(id, patch, now), id)
    const reply = (await this.#run('update a budget', call)) as LedgerReply
    if (reply[0] === 'invalid') {
      if (reply[2] === 'missing') throw budgetIdError(id, 'missing')
      const field = String(reply[1])
      const limit = /^limits\.(\d+)\./.exec(field)
      throw invalidField(field, limit ? patch.limits?.[Number(limit[1])]?.amountMicros : now)
    }
    return toBudgetRecord(reply[1]) as BudgetRecord
  }

  async openApproval(
    request: OpenApprovalRequest,
  ): Promise<{ approval: ApprovalRecord; created: boolean }> {
    const call = this.#calls.openApproval(request)
    this.#cluster?.openCall(call, request.handle)
    const reply = (await this.#run('open an approval request', call)) as LedgerReply
    if (reply[0] === 'created') await this.#cluster?.opened(String(request.id), request.handle)
    if (reply[0] === 'invalid') {
      const field = String(reply[1])
      throw invalidField(field, (request as unknown as Record<string, unknown>)[field])
    }
    if (reply[0] === 'not_found') throw new AgentNotFoundError(request.handle)
    return { approval: toApprovalRecord(reply[1]), created: reply[0] === 'created' }
  }

  async leaveApproval(request: LeaveApprovalRequest): Promise<void> {
    const call = this.#calls.leaveApproval(request)
    this.#cluster?.openCall(call, request.handle)
    const reply = (await this.#run('leave an approval request', call)) as LedgerReply
    if (reply[0] === 'invalid') {
      const field = String(reply[1])
      throw invalidField(field, (request as unknown as Record<string, unknown>)[field])
    }
  }

  async decideApproval(request: DecideApprovalRequest): Promise<ApprovalRecord> {
    const call = this.#calls.decideApproval({ ...request, by: request.by })
    await this.#cluster?.decideCall(call, request.id)
    const reply = (await this.#run('decide an approval request', call)) as LedgerReply
    const [outcome, detail, extra] = reply
    if (outcome === 'invalid') {
      const field = String(detail)
      if (field === 'grant') {
        throw new InvalidConfigError(
          'grant',
          'An approval needs a grant: an amount and how long it lasts.',
        )
      }
      const grant = request.grant as Record<string, unknown> | undefined
      const sent: Record<string, unknown> = {
        now: request.now,
        id: request.id,
        'grant.amountMicros': grant?.amountMicros,
        'grant.ttlMs': grant?.ttlMs,
      }
      throw invalidField(field, sent[field])
    }
    if (outcome === 'missing') throw new ApprovalNotFoundError(request.id)
    if (outcome === 'decided') {
      throw new InvalidConfigError(
        'id',
        `Approval request ${request.id} is ${String(detail)} already: a request is decided once.`,
      )
    }
    if (outcome === 'not_found') throw new AgentNotFoundError(String(detail))
    if (outcome === 'revoked') {
      throw new AgentRevokedError({
        handle: String(detail),
        reason: extra === '' || extra === undefined ? undefined : String(extra),
        message: `Agent "${String(detail)}" is revoked: approvals never bring a revoked agent back.`,
      })
    }
    const decided = toApprovalRecord(detail)
    this.#publish({ type: 'updated', handle: decided.handle })
    return decided
  }

  async getApproval(id: string, now: number): Promise<ApprovalRecord | undefined> {
    const [found] = await this.#approvals('read an approval request', now, undefined, [id])
    return found
  }

  async listApprovals(
    now: number,
    filter: { status?: ApprovalRecord['status'] } = {},
  ): Promise<ApprovalRecord[]> {
    return this.#approvals('list approval requests', now, filter.status, [])
  }

  async #approvals(
    operation: string,
    now: number,
    status: string | undefined,
    ids: string[],
  ): Promise<ApprovalRecord[]> {
    const reply = this.#cluster
      ? await this.#cluster.approvals(operation, now, status, ids)
      : ((await this.#run(operation, this.#calls.approvals(now, status, ids))) as LedgerReply)
    if (reply[0] === 'invalid') throw invalidField('now', now)
    return (reply[1] as unknown[]).map(toApprovalRecord)
  }

  async readUsage(keys: readonly string[]): Promise<UsageRecord[]> {
    if (keys.length === 0) return []
    if (this.#options.clock === 'server') return this.#usageOnServerClock(keys)
    const reply = this.#cluster
      ? await this.#cluster.usage(keys)
      : ((await this.#run('read usage', this.#calls.usage(keys))) as string[])
    return keys.map((_, i) => ({
      spentMicros: Number(reply[2 * i]),
      heldMicros: Number(reply[2 * i + 1]),
    }))
  }

  /**
   * Window usage on Redis's clock, the one reserves pick their windows on: a key of this
   * process's current window reads Redis's current one (redis-scripts-views.ts). One script
   * per slot: one on a single Redis.
   */
  async #usageOnServerClock(windowKeys: readonly string[]): Promise<UsageRecord[]> {
    const bySlot = new Map<string, string[]>()
    for (const key of new Set(windowKeys)) {
      const usageKey = this.#keys.usage(key)
      const slot = usageKey.slice(0, usageKey.length - `usage:${key}`.length)
      const group = bySlot.get(slot)
      if (group) group.push(key)
      else bySlot.set(slot, [key])
    }
    const usage = new Map<string, UsageRecord>()
    const read = async ([slot, keys]: [string, string[]]) => {
      const reply = await this.#zoned('read usage', Date.now(), () => {
        const call = this.#calls.windowUsage(slot, keys, this.#zones.toViewsJSON(Date.now()))
        return this.#run('read usage', call) as Promise<LedgerReply>
      })
      keys.forEach((key, i) => {
        usage.set(key, { spentMicros: Number(reply[2 * i]), heldMicros: Number(reply[2 * i + 1]) })
      })
    }
    await Promise.all([...bySlot].map(read))
    return windowKeys.map((key) => usage.get(key) as UsageRecord)
  }

  async renew(request: RenewRequest): Promise<Awaited<ReturnType<Store['renew']>>> {
    checkHoldId(request.holdId)
    const reply = await this.#ledger('renew a hold', request.handle, this.#calls.renew(request), {
      ttlMs: request.ttlMs,
      now: request.now,
    })
    if (reply[0] === 'not_found') throw new AgentNotFoundError(request.handle)
    const revoked =
      reply.length > 2 ? { revoked: { reason: String(reply[2]), at: Number(reply[3]) } } : {}
    if (reply[0] === 'renewed') return { renewed: true, expiresAt: Number(reply[1]), ...revoked }
    return { renewed: false, ...revoked }
  }

  async settle(request: SettleRequest): Promise<SettleResult> {
    checkHoldId(request.holdId)
    const reply = await this.#ledger('settle', request.handle, this.#calls.settle(request), {
      costMicros: request.costMicros,
      now: request.now,
    })
    if (reply[0] === 'not_found') throw new AgentNotFoundError(request.handle)
    const outcome = reply[0] as SettleResult['outcome']
    const agent = toAgentRecord(reply[1])
    if (outcome === 'above_charge') return { outcome, agent, chargedMicros: Number(reply[2]) }
    return { outcome, agent }
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    checkHoldId(request.holdId)
    const reply = await this.#ledger('release', request.handle, this.#calls.release(request), {
      now: request.now,
    })
    if (reply[0] === 'not_found') throw new AgentNotFoundError(request.handle)
    return { outcome: reply[0] as ReleaseResult['outcome'], agent: toAgentRecord(reply[1]) }
  }

  appendAudit(entry: AuditEntry): void {
    if (this.#closed) throw this.#unavailable('append to the audit log', new Error('closed'))
    this.#audit.push(entry)
    // Written on the next turn, batched, off the caller's path; ledger scripts of the same
    // agent carry its buffered entries along, so the log stays in call order.
    this.#flushTimer ??= setImmediate(() => this.#flushInBackground())
  }

  /** A page of the audit log, read by the script (one round trip): the whole log without a limit. */
  async readAudit(
    handle: string,
    options: { limit?: number; before?: number } = {},
  ): Promise<AuditEntry[]> {
    await this.flush()
    const limit = Math.floor(options.limit ?? Number.MAX_SAFE_INTEGER)
    if (!(limit > 0)) return []
    const call = this.#calls.auditPage(handle, options.before, limit)
    const lines = (await this.#run('read the audit log', call)) as string[]
    return lines.map(toAuditEntry)
  }

  async recordActivity(
    handle: string,
    events: ActivityEvent | readonly ActivityEvent[],
    keep: number,
  ): Promise<ActivityEvent[]> {
    const batch = Array.isArray(events) ? events : [events as ActivityEvent]
    try {
      const sent = this.#activity.send(handle, { events: batch, keep })
      const call = this.#calls.activity(handle, sent.args)
      // An unknown agent keeps no window (as the memory store): {-1}.
      call.onReply = (reply) => {
        if ((reply as unknown[])[0] !== -1) this.#activity.apply(sent, reply)
      }
      const reply = await this.#run('record activity', call)
      if ((reply as unknown[])[0] === -1) return [...batch]
      return sent.window ?? (await this.#recoverActivity(sent))
    } catch (error) {
      if (this.#options.failOpen && unreachable(error)) return [...batch]
      throw error
    }
  }

  async markOnce(handle: string, key: string): Promise<boolean> {
    let reply: number
    try {
      reply = (await this.#run('set an alert mark', this.#calls.mark(handle, key))) as number
    } catch (error) {
      if (this.#options.failOpen && unreachable(error)) return false
      throw error
    }
    if (reply === -1) throw new AgentNotFoundError(handle)
    return reply === 1
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener)
    if (!this.#feed && !this.#closed) {
      this.#subscriber = this.#client.duplicate(subscriberOptions(this.#options))
      this.#subscriber.on('error', () => {})
      this.#feed = new RedisEventFeed({
        subscriber: this.#subscriber,
        reader: this.#client,
        channel: this.#keys.channel,
        revocations: this.#keys.revocations,
        agentKey: (handle) => this.#keys.ledger(handle)[0],
        origin: this.#origin,
        emit: (event) => this.#publish(event),
        cluster: this.#cluster !== undefined,
      })
    }
    return () => {
      this.#listeners.delete(listener)
    }
  }

  async flush(): Promise<void> {
    if (this.#audit.isEmpty) return
    const { entries: pending, byAgent } = this.#audit.drain()
    try {
      // One script per agent (each entry gets its seq there), all in one pipeline.
      await this.#call('write the audit log', async () => {
        if (this.#cluster) return this.#cluster.appendAudit(byAgent)
        const pipeline = this.#client.pipeline() as unknown as Record<
          string,
          (...args: (string | number)[]) => unknown
        > & { exec(): Promise<[Error | null, unknown][] | null> }
        for (const [handle, entries] of byAgent) {
          const { name, keys, args } = this.#calls.auditAppend(handle, entries)
          ;(pipeline[name] as (...args: (string | number)[]) => unknown)(...keys, ...args)
        }
        const failed = ((await pipeline.exec()) ?? []).find(([error]) => error)
        if (failed) throw failed[0]
      })
    } catch (error) {
      // Some scripts of the pipeline may have run: their entries' ids are skipped when sent again.
      this.#audit.giveBack(pending)
      if (this.#options.failOpen && unreachable(error)) return
      throw error
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    clearImmediate(this.#flushTimer as NodeJS.Immediate)
    clearTimeout(this.#flushTimer as NodeJS.Timeout)
    this.#flushTimer = undefined
    try {
      await this.#auditRetention?.idle()
      await this.flush()
    } finally {
      this.#closed = true
      this.#feed?.stop()
      this.#subscriber?.disconnect()
      this.#replicaWaits.close()
      this.#listeners.clear()
      if (!this.#options.client) this.#client.disconnect()
    }
  }

  /**
   * Runs a ledger script with the agent's buffered audit entries riding along (in order).
   * A field the script refused is an InvalidConfigError quoting `sent[field]`; the script
   * wrote nothing, so the entries are buffered again.
   */
  async #ledger(
    operation: string,
    handle: string,
    call: ScriptCall,
    sent: Record<string, unknown>,
  ): Promise<LedgerReply> {
    const carried = this.#audit.take(handle)
    const args = [...call.args, ...carried.map((entry) => JSON.stringify(entry))]
    let reply: LedgerReply
    try {
      reply = (await this.#run(operation, { ...call, args })) as LedgerReply
    } catch (error) {
      // Maybe written (a reply that timed out, Redis ran the script): sent again, the
      // script skips the entries' ids it wrote (redis-audit-buffer.ts).
      this.#audit.giveBack(carried)
      throw error
    }
    if (reply[0] === 'invalid' || reply[0] === 'zones') {
      // Nothing was written: the entries wait for the next write.
      this.#audit.giveBack(carried)
    }
    if (reply[0] === 'invalid' || reply[0] === 'invalid_late') {
      const field = String(reply[1])
      if (reply[2] === 'missing') throw missingBudget(field, String(reply[3]))
      throw invalidField(field, sent[field])
    }
    return reply
  }

  /**
   * A script sent with the zones' windows: sent again with the windows it asked for (a
   * 'zones' reply, nothing written) when one rolled over since this process last sent it.
   */
  async #zoned(
    operation: string,
    now: number,
    send: () => Promise<LedgerReply>,
  ): Promise<LedgerReply> {
    this.#zones.refreshAt(this.#zones.storeNow(now))
    for (let attempt = 0; attempt < 5; attempt++) {
      const reply = await send()
      if (reply[0] !== 'zones') return reply
      this.#zones.learn(reply[1] as string[], Number(reply[2]))
    }
    throw this.#unavailable(operation, new Error('the calendar windows kept moving'))
  }

  async #run(operation: string, call: ScriptCall): Promise<unknown> {
    return this.#cluster ? this.#cluster.run(operation, call) : this.#send(operation, call)
  }

  #send(operation: string, { name, keys, args, onReply }: ScriptCall): Promise<unknown> {
    const invoke = (this.#client as unknown as Record<string, Invoke>)[name] as Invoke
    if (!onReply) return this.#call(operation, () => invoke.call(this.#client, ...keys, ...args))
    // Hooked on the command itself: its replies resolve in the order Redis ran the scripts.
    return this.#call(operation, () =>
      invoke.call(this.#client, ...keys, ...args).then((reply) => {
        onReply(reply)
        return reply
      }),
    )
  }

  /**
   * The window of a call whose reply could not be completed from this process's copy (a
   * reply before it was lost with its connection): one whole read of the window.
   */
  async #recoverActivity(sent: ActivitySend): Promise<ActivityEvent[]> {
    const whole = this.#calls.activity(sent.handle, this.#activity.wholeArgs(sent.keep))
    const reply = await this.#run('record activity', whole)
    if ((reply as unknown[])[0] === -1) return [...sent.events]
    return this.#activity.recover(sent, reply)
  }

  /** A budget script: on a cluster, on the budget's slot. */
  #onBudgetSlot(call: ScriptCall, id: unknown): ScriptCall {
    return this.#cluster ? this.#cluster.onBudgetSlot(call, String(id)) : call
  }

  /** Budget records by id (every budget without ids): one script, or one read per slot. */
  async #budgets(operation: string, ids: string[]): Promise<unknown[]> {
    if (this.#cluster) return this.#cluster.budgets(operation, ids)
    return (await this.#run(operation, this.#calls.budgets(ids))) as unknown[]
  }

  #found(reply: unknown, now: number): AgentRecord | undefined {
    const [outcome, record] = reply as LedgerReply
    if (outcome === 'invalid') throw invalidField('now', now)
    return outcome === 'ok' ? toAgentRecord(record) : undefined
  }

  /** One command with a deadline; any failure but our own errors becomes StoreUnavailableError. */
  async #call<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw this.#unavailable(operation, new Error('the store is closed'))
    const { commandTimeoutMs, connectTimeoutMs } = this.#options
    try {
      await untilConnected(this.#client, {
        everReady: this.#everReady,
        timeoutMs: connectTimeoutMs,
      })
      const late = () => new Error(`no reply within ${commandTimeoutMs} ms`)
      await withDeadline(this.#checkDurable(), commandTimeoutMs, late)
      return await withDeadline(command(), commandTimeoutMs, late)
    } catch (error) {
      throw KillSwitchError.isInstance(error) ? error : this.#unavailable(operation, error)
    }
  }

  /**
   * Refuses a Redis before 7.0, and one that can lose acknowledged writes (redis-durability.ts)
   * unless allowVolatile, and warns (once) of replicas a primary may write without
   * (redis-replicas.ts). Checked once per connection: one INFO after each (re)connect.
   */
  async #checkDurable(): Promise<void> {
    this.#durable ??= (async () => {
      const info = await this.#client.info()
      const old = versionProblem(this.#options.label, info)
      if (old !== undefined) throw new VolatileRedisError(old)
      if (this.#options.allowVolatile) return
      const problems = durabilityProblems(info)
      if (problems.length > 0) {
        throw new VolatileRedisError(volatileMessage(this.#options.label, problems))
      }
      const replication = replicationOf(info)
      if (replication.replicas && !replication.refusesWritesAlone && !this.#warnedReplicas) {
        this.#warnedReplicas = true
        process.emitWarning(REPLICAS_WARNING, { code: 'KILLSWITCH_REDIS_REPLICAS' })
      }
    })()
    const check = this.#durable
    try {
      await check
    } catch (error) {
      // Checked again by the next call: the operator may fix the server meanwhile.
      if (this.#durable === check) this.#durable = undefined
      throw error
    }
  }

  /** Admits nothing while revocations may have been missed (see redis-event-feed.ts). */
  async #caughtUp(): Promise<void> {
    if (!this.#feed || this.#feed.isReady) return
    const reason = 'the revocation feed is reconnecting; no call is admitted until it caught up'
    await withDeadline(this.#feed.ready, this.#options.commandTimeoutMs, () =>
      this.#unavailable('reserve', new Error(reason)),
    )
  }

  #flushInBackground(): void {
    this.#flushTimer = undefined
    if (this.#closed) return
    this.flush().catch(() => {
      // Still buffered: retry shortly. flush(), readAudit() and close() report the error.
      if (!this.#closed) this.#flushTimer = setTimeout(() => this.#flushInBackground(), 200)
    })
  }

  #publish(event: StoreEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch {
        // One failing listener must not keep the others (guards' aborts) from hearing it.
      }
    }
  }

  #unavailable(operation: string, error: unknown): StoreUnavailableError {
    const detail = error instanceof Error ? error.message : String(error)
    return new StoreUnavailableError(
      `Redis at ${this.#options.label} could not ${operation} (${detail})`,
      { cause: error },
    )
  }
}

/** The value of a field of a new agent, for the message of a refused one. */
function fieldOf(record: NewAgentRecord, field: unknown): unknown {
  return (record as unknown as Record<string, unknown>)[String(field)]
}
