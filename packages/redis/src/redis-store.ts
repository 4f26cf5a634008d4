// The kill switch store for fleets: every process on every machine shares one Redis. Each
// ledger operation is one Lua script (redis-scripts.ts, called as redis-script-calls.ts
// says), revocations are broadcast with pub/sub (redis-event-feed.ts), and an unreachable
// Redis fails closed, fast (redis-connection.ts).

import { randomUUID } from 'node:crypto'
import {
  type ActivityEvent,
  AgentExistsError,
  AgentNotFoundError,
  type AgentPolicy,
  type AgentRecord,
  type AuditEntry,
  KillSwitchError,
  type NewAgentRecord,
  type ReleaseRequest,
  type ReleaseResult,
  type ReserveRequest,
  type ReserveResult,
  type SettleRequest,
  type SettleResult,
  type Store,
  type StoreEvent,
  StoreUnavailableError,
} from '@killswitch/core'
import { Redis } from 'ioredis'
import {
  connectionOptions,
  subscriberOptions,
  untilConnected,
  withDeadline,
} from './redis-connection.js'
import { RedisEventFeed } from './redis-event-feed.js'
import { type RedisKeys, redisKeys } from './redis-keys.js'
import { toAgentRecord, toAuditEntry } from './redis-records.js'
import { type ScriptCall, type ScriptCalls, scriptCalls } from './redis-script-calls.js'
import { SCRIPTS, type ScriptName } from './redis-scripts.js'
import {
  type RedisStoreOptions,
  type ResolvedOptions,
  resolveOptions,
} from './redis-store-options.js'

export type { RedisStoreOptions } from './redis-store-options.js'

/**
 * A store in Redis, shared by every process of a fleet: atomic Lua scripts for the ledger,
 * pub/sub for revocations, fail closed when Redis cannot be reached. Give it a `url` (it
 * opens and closes its own connections) or your own ioredis `client` (left open on close).
 * Redis must persist its data (AOF): a Redis that restarts empty forgets spend.
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
/** What the ledger scripts return: an outcome, and the agent's record after it. */
type LedgerReply = [string, unknown]

const FAIL_OPEN_WARNING =
  'redisStore({ failOpen: true }): while Redis is unreachable, activity windows, alert marks and audit writes are skipped or kept in memory instead of failing. ' +
  'Reserves, settlements, revocations and reads still fail closed. Runaway detection and threshold alerts are blind during an outage.'

class RedisStore implements Store {
  readonly kind = 'redis'
  readonly #options: ResolvedOptions
  readonly #client: Redis
  readonly #keys: RedisKeys
  readonly #calls: ScriptCalls
  readonly #origin = randomUUID()
  readonly #listeners = new Set<(event: StoreEvent) => void>()
  #subscriber: Redis | undefined
  #feed: RedisEventFeed | undefined
  #auditBuffer: AuditEntry[] = []
  #flushTimer: NodeJS.Immediate | NodeJS.Timeout | undefined
  #everReady = false
  #closed = false

  constructor(options: ResolvedOptions) {
    this.#options = options
    this.#keys = redisKeys(options.prefix)
    this.#calls = scriptCalls({ ...options, keys: this.#keys, origin: this.#origin })
    this.#client = options.client ?? new Redis(options.url as string, connectionOptions(options))
    // Our own connections need an error listener, or ioredis prints every reconnect attempt.
    if (!options.client) this.#client.on('error', () => {})
    this.#everReady = this.#client.status === 'ready'
    this.#client.on('ready', () => {
      this.#everReady = true
    })
    for (const [name, definition] of Object.entries(SCRIPTS)) {
      if (typeof (this.#client as unknown as Record<string, unknown>)[name] !== 'function') {
        this.#client.defineCommand(name, definition)
      }
    }
    if (options.failOpen) process.emitWarning(FAIL_OPEN_WARNING, { code: 'KILLSWITCH_FAIL_OPEN' })
  }

  async createAgent(record: NewAgentRecord): Promise<AgentRecord> {
    const reply = (await this.#run('create an agent', this.#calls.create(record))) as LedgerReply
    if (reply[0] === 'exists') throw new AgentExistsError(record.handle)
    return toAgentRecord(reply[1])
  }

  async getAgent(handle: string, now: number): Promise<AgentRecord | undefined> {
    return this.#get('read an agent', handle, now)
  }

  async findAgentByCredentialHash(hash: string, now: number): Promise<AgentRecord | undefined> {
    const operation = 'look up a credential'
    const handle = await this.#call(operation, () => this.#client.get(this.#keys.credential(hash)))
    return handle === null ? undefined : this.#get(operation, handle, now)
  }

  async listAgents(now: number): Promise<AgentRecord[]> {
    const key = this.#keys.agents
    const handles = await this.#call('list agents', () => this.#client.zrange(key, '0', '-1'))
    const agents = await Promise.all(handles.map((handle) => this.#get('list agents', handle, now)))
    return agents.filter((agent): agent is AgentRecord => agent !== undefined)
  }

  async updateAgent(
    handle: string,
    patch: { capMicros?: number; policy?: AgentPolicy },
    now: number,
    audit?: AuditEntry,
  ): Promise<AgentRecord> {
    const call = this.#calls.update(handle, patch, now, audit)
    const reply = await this.#ledger('update an agent', handle, call)
    if (reply[0] === 'not_found') throw new AgentNotFoundError(handle)
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
    const reply = await this.#ledger('revoke an agent', handle, call)
    if (reply[0] === 'not_found') throw new AgentNotFoundError(handle)
    const alreadyRevoked = reply[0] === 'already'
    if (!alreadyRevoked) {
      this.#feed?.remember(handle)
      this.#publish({ type: 'revoked', handle, reason, at: now })
    }
    return { agent: toAgentRecord(reply[1]), alreadyRevoked }
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    await this.#caughtUp()
    const reply = await this.#ledger('reserve', request.handle, this.#calls.reserve(request))
    if (reply[0] === 'ok') return { ok: true, agent: toAgentRecord(reply[1]) }
    if (reply[0] === 'not_found') return { ok: false, reason: 'not_found' }
    return { ok: false, reason: reply[0] as 'revoked' | 'cap', agent: toAgentRecord(reply[1]) }
  }

  async settle(request: SettleRequest): Promise<SettleResult> {
    const reply = await this.#ledger('settle', request.handle, this.#calls.settle(request))
    if (reply[0] === 'not_found') throw new AgentNotFoundError(request.handle)
    return { outcome: reply[0] as SettleResult['outcome'], agent: toAgentRecord(reply[1]) }
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    const reply = await this.#ledger('release', request.handle, this.#calls.release(request))
    if (reply[0] === 'not_found') throw new AgentNotFoundError(request.handle)
    return { outcome: reply[0] as ReleaseResult['outcome'], agent: toAgentRecord(reply[1]) }
  }

  appendAudit(entry: AuditEntry): void {
    if (this.#closed) throw this.#unavailable('append to the audit log', new Error('closed'))
    this.#auditBuffer.push(entry)
    // Written on the next turn, batched, off the caller's path; ledger scripts of the same
    // agent carry its buffered entries along, so the log stays in call order.
    this.#flushTimer ??= setImmediate(() => this.#flushInBackground())
  }

  async readAudit(handle: string, options?: { limit?: number }): Promise<AuditEntry[]> {
    await this.flush()
    const limit = options?.limit
    if (limit !== undefined && limit <= 0) return []
    const key = this.#keys.ledger(handle)[5]
    const start = limit === undefined ? 0 : -Math.floor(limit)
    const lines = await this.#call('read the audit log', () => this.#client.lrange(key, start, -1))
    return lines.map(toAuditEntry)
  }

  async recordActivity(
    handle: string,
    event: ActivityEvent,
    keep: number,
  ): Promise<ActivityEvent[]> {
    try {
      const call = this.#calls.activity(handle, event, keep)
      const lines = (await this.#run('record activity', call)) as string[]
      return lines.map((line) => JSON.parse(line) as ActivityEvent)
    } catch (error) {
      if (this.#options.failOpen && StoreUnavailableError.isInstance(error)) return [event]
      throw error
    }
  }

  async markOnce(handle: string, key: string): Promise<boolean> {
    let reply: number
    try {
      reply = (await this.#run('set an alert mark', this.#calls.mark(handle, key))) as number
    } catch (error) {
      if (this.#options.failOpen && StoreUnavailableError.isInstance(error)) return false
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
      })
    }
    return () => {
      this.#listeners.delete(listener)
    }
  }

  async flush(): Promise<void> {
    if (this.#auditBuffer.length === 0) return
    const pending = this.#auditBuffer
    this.#auditBuffer = []
    try {
      await this.#call('write the audit log', async () => {
        const pipeline = this.#client.pipeline()
        for (const entry of pending) {
          const key = this.#keys.ledger(entry.handle)[5]
          pipeline.rpush(key, JSON.stringify(entry))
          pipeline.ltrim(key, -this.#options.maxAuditEntriesPerAgent, -1)
        }
        const failed = ((await pipeline.exec()) ?? []).find(([error]) => error)
        if (failed) throw failed[0]
      })
    } catch (error) {
      this.#auditBuffer = pending.concat(this.#auditBuffer)
      if (this.#options.failOpen && StoreUnavailableError.isInstance(error)) return
      throw error
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    clearImmediate(this.#flushTimer as NodeJS.Immediate)
    clearTimeout(this.#flushTimer as NodeJS.Timeout)
    this.#flushTimer = undefined
    try {
      await this.flush()
    } finally {
      this.#closed = true
      this.#feed?.stop()
      this.#subscriber?.disconnect()
      this.#listeners.clear()
      if (!this.#options.client) this.#client.disconnect()
    }
  }

  /** Runs a ledger script with the agent's buffered audit entries riding along (in order). */
  async #ledger(operation: string, handle: string, call: ScriptCall): Promise<LedgerReply> {
    const carried = this.#takeBuffered(handle)
    const args = [...call.args, ...carried.map((entry) => JSON.stringify(entry))]
    try {
      return (await this.#run(operation, { ...call, args })) as LedgerReply
    } catch (error) {
      this.#auditBuffer = carried.concat(this.#auditBuffer)
      throw error
    }
  }

  #run(operation: string, { name, keys, args }: ScriptCall): Promise<unknown> {
    const invoke = (this.#client as unknown as Record<ScriptName, Invoke>)[name]
    return this.#call(operation, () => invoke.call(this.#client, ...keys, ...args))
  }

  async #get(operation: string, handle: string, now: number): Promise<AgentRecord | undefined> {
    const reply = await this.#run(operation, this.#calls.get(handle, now))
    return reply === null ? undefined : toAgentRecord(reply)
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
      return await withDeadline(command(), commandTimeoutMs, late)
    } catch (error) {
      throw KillSwitchError.isInstance(error) ? error : this.#unavailable(operation, error)
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

  /** Takes this agent's buffered audit entries (at most 500, a script's argument budget). */
  #takeBuffered(handle: string): AuditEntry[] {
    if (this.#auditBuffer.length === 0) return []
    const mine: AuditEntry[] = []
    const others: AuditEntry[] = []
    for (const entry of this.#auditBuffer) {
      ;(entry.handle === handle && mine.length < 500 ? mine : others).push(entry)
    }
    this.#auditBuffer = others
    return mine
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
