// The default store: everything in this process's memory. Every operation completes in one
// synchronous step (no await inside), which is what makes it atomic on Node's event loop.
// One process only, and forgotten on restart: use sqliteStore or redisStore to share state
// or to keep revocations across restarts.
import type { AuditEntry } from '../audit.js'
import { AgentExistsError, AgentNotFoundError } from '../errors.js'
import type {
  ActivityEvent,
  AgentRecord,
  NewAgentRecord,
  ReleaseRequest,
  ReleaseResult,
  ReserveRequest,
  ReserveResult,
  SettleRequest,
  SettleResult,
  Store,
  StoreEvent,
} from '../store.js'
import { lapsedHoldEntry } from './lapsed-hold-entry.js'

/** Options of the memory store. */
export interface MemoryStoreOptions {
  /** Audit entries kept per agent; the oldest are dropped past it. Default 10,000. */
  maxAuditEntriesPerAgent?: number
}

interface Hold {
  amount: number
  expiresAt: number
}

interface AgentState {
  record: AgentRecord
  holds: Map<string, Hold>
  /** Earliest expiry among `holds`, so most operations skip the sweep. */
  nextExpiry: number
  /** Holds that ended, for idempotent settle and release. Bounded, oldest evicted. */
  finished: Map<string, 'settled' | 'released' | 'expired'>
  audit: AuditEntry[]
  activity: ActivityEvent[]
  marks: Set<string>
}

const FINISHED_HOLDS_KEPT = 10_000
const AUDIT_TRIM_BATCH = 1_024

/**
 * Creates an in-memory store (the default when createKillSwitch gets no store).
 *
 * @example
 * const ks = createKillSwitch({ store: memoryStore() })
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const maxAudit = options.maxAuditEntriesPerAgent ?? 10_000
  const agents = new Map<string, AgentState>()
  const byCredential = new Map<string, AgentState>()
  const listeners = new Set<(event: StoreEvent) => void>()

  const publish = (event: StoreEvent) => {
    for (const listener of listeners) {
      try {
        listener(event)
      } catch {
        // A subscriber's failure is its own; the store's state is already written.
      }
    }
  }

  const snapshot = (state: AgentState): AgentRecord => ({ ...state.record })

  const sweep = (state: AgentState, now: number) => {
    if (now < state.nextExpiry) return
    let next = Number.POSITIVE_INFINITY
    for (const [id, hold] of state.holds) {
      if (hold.expiresAt <= now) {
        state.holds.delete(id)
        state.record.heldMicros -= hold.amount
        finish(state, id, 'expired')
        append(state, lapsedHoldEntry(state.record.handle, id, hold.amount, hold.expiresAt, now))
      } else if (hold.expiresAt < next) {
        next = hold.expiresAt
      }
    }
    state.nextExpiry = next
  }

  const finish = (state: AgentState, id: string, how: 'settled' | 'released' | 'expired') => {
    state.finished.set(id, how)
    // Evict in batches: deleting the oldest key one at a time leaves a Map's front full of
    // tombstones that every `keys().next()` walks past.
    if (state.finished.size > FINISHED_HOLDS_KEPT * 2) {
      state.finished = new Map([...state.finished].slice(-FINISHED_HOLDS_KEPT))
    }
  }

  const append = (state: AgentState, entry: AuditEntry | undefined) => {
    if (!entry) return
    state.audit.push(entry)
    // Trim in batches: dropping the oldest entry on every append would shift the whole
    // array each time (O(n) per call once full).
    if (state.audit.length > maxAudit + AUDIT_TRIM_BATCH)
      state.audit.splice(0, state.audit.length - maxAudit)
  }

  const existing = (handle: string): AgentState => {
    const state = agents.get(handle)
    if (!state) throw new AgentNotFoundError(handle)
    return state
  }

  const store: Store = {
    kind: 'memory',

    async createAgent(record: NewAgentRecord) {
      if (agents.has(record.handle)) throw new AgentExistsError(record.handle)
      const state: AgentState = {
        record: { ...record, status: 'active', spentMicros: 0, heldMicros: 0 },
        holds: new Map(),
        nextExpiry: Number.POSITIVE_INFINITY,
        finished: new Map(),
        audit: [],
        activity: [],
        marks: new Set(),
      }
      agents.set(record.handle, state)
      byCredential.set(record.credentialHash, state)
      return snapshot(state)
    },

    async getAgent(handle, now) {
      const state = agents.get(handle)
      if (!state) return undefined
      sweep(state, now)
      return snapshot(state)
    },

    async findAgentByCredentialHash(credentialHash, now) {
      const state = byCredential.get(credentialHash)
      if (!state) return undefined
      sweep(state, now)
      return snapshot(state)
    },

    async listAgents(now) {
      return [...agents.values()].map((state) => {
        sweep(state, now)
        return snapshot(state)
      })
    },

    async updateAgent(handle, patch, now, audit) {
      const state = existing(handle)
      if (patch.capMicros !== undefined) state.record.capMicros = patch.capMicros
      if (patch.policy !== undefined) state.record.policy = patch.policy
      state.record.updatedAt = now
      append(state, audit)
      sweep(state, now)
      publish({ type: 'updated', handle })
      return snapshot(state)
    },

    async revokeAgent(handle, reason, now, audit) {
      const state = existing(handle)
      const alreadyRevoked = state.record.status === 'revoked'
      if (!alreadyRevoked) {
        state.record.status = 'revoked'
        state.record.revokedAt = now
        state.record.revokedReason = reason
        state.record.updatedAt = now
        append(state, audit)
        publish({ type: 'revoked', handle, reason, at: now })
      }
      return { agent: snapshot(state), alreadyRevoked }
    },

    async reserve(request: ReserveRequest): Promise<ReserveResult> {
      const state = agents.get(request.handle)
      if (!state) return { ok: false, reason: 'not_found' }
      sweep(state, request.now)
      const record = state.record
      if (record.status === 'revoked')
        return { ok: false, reason: 'revoked', agent: snapshot(state) }
      // A retried reserve with the same hold id must not hold twice.
      if (state.holds.has(request.holdId)) return { ok: true, agent: snapshot(state) }
      const available = record.capMicros - record.spentMicros - record.heldMicros
      if (available <= 0 || request.amountMicros > available) {
        return { ok: false, reason: 'cap', agent: snapshot(state) }
      }
      state.holds.set(request.holdId, {
        amount: request.amountMicros,
        expiresAt: request.expiresAt,
      })
      state.finished.delete(request.holdId)
      if (request.expiresAt < state.nextExpiry) state.nextExpiry = request.expiresAt
      record.heldMicros += request.amountMicros
      append(state, request.audit)
      return { ok: true, agent: snapshot(state) }
    },

    async settle(request: SettleRequest): Promise<SettleResult> {
      const state = existing(request.handle)
      sweep(state, request.now)
      const hold = state.holds.get(request.holdId)
      const ended = state.finished.get(request.holdId)
      if (!hold && (ended === 'settled' || ended === 'released')) {
        return { outcome: 'duplicate', agent: snapshot(state) }
      }
      if (hold) {
        state.holds.delete(request.holdId)
        state.record.heldMicros -= hold.amount
      }
      state.record.spentMicros += request.costMicros
      finish(state, request.holdId, 'settled')
      append(state, request.audit)
      return { outcome: hold ? 'settled' : 'late', agent: snapshot(state) }
    },

    async release(request: ReleaseRequest): Promise<ReleaseResult> {
      const state = existing(request.handle)
      sweep(state, request.now)
      const hold = state.holds.get(request.holdId)
      if (!hold) {
        if (!state.finished.has(request.holdId)) finish(state, request.holdId, 'released')
        return { outcome: 'none', agent: snapshot(state) }
      }
      state.holds.delete(request.holdId)
      state.record.heldMicros -= hold.amount
      finish(state, request.holdId, 'released')
      append(state, request.audit)
      return { outcome: 'released', agent: snapshot(state) }
    },

    appendAudit(entry) {
      const state = agents.get(entry.handle)
      if (state) append(state, entry)
    },

    async readAudit(handle, options = {}) {
      const entries = agents.get(handle)?.audit ?? []
      const limit = Math.min(options.limit ?? maxAudit, maxAudit)
      return limit > 0 ? entries.slice(-limit) : []
    },

    async recordActivity(handle, event, keep) {
      const state = agents.get(handle)
      if (!state) return [event]
      state.activity.push(event)
      // Trim in batches so that a push is amortised O(1).
      if (state.activity.length > keep * 2) state.activity.splice(0, state.activity.length - keep)
      return state.activity.slice(-keep)
    },

    async markOnce(handle, key) {
      const state = existing(handle)
      if (state.marks.has(key)) return false
      state.marks.add(key)
      return true
    },

    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    async flush() {},

    async close() {
      listeners.clear()
    },
  }
  return store
}
