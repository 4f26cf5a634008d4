// The Store operations as calls of the Lua scripts in redis-scripts.ts: which keys, which
// arguments in which order. Kept apart from the store, which only sends them and reads the
// replies, so that each script's argument list can be read beside its ARGV comment.

import type {
  ActivityEvent,
  AgentPolicy,
  AuditEntry,
  NewAgentRecord,
  ReleaseRequest,
  ReserveRequest,
  SettleRequest,
  StoreEvent,
} from '@killswitch/core'
import type { RedisKeys } from './redis-keys.js'
import type { ScriptName } from './redis-scripts.js'

export interface ScriptCall {
  name: ScriptName
  keys: string[]
  args: (string | number)[]
}

export interface ScriptCallContext {
  keys: RedisKeys
  /** Tags this store's events, so that its own subscription skips them. */
  origin: string
  holdRetentionMs: number
  maxAuditEntriesPerAgent: number
}

const json = (value: AuditEntry | undefined) => (value ? JSON.stringify(value) : '')

/**
 * Builds the script calls of one store.
 *
 * @example
 * const calls = scriptCalls({ keys: redisKeys('killswitch:'), origin, holdRetentionMs, maxAuditEntriesPerAgent })
 * const { name, keys, args } = calls.reserve(request)
 */
export function scriptCalls(context: ScriptCallContext) {
  const { keys, origin, maxAuditEntriesPerAgent: maxAudit } = context
  const forgetBefore = (now: number) => now - context.holdRetentionMs
  const event = (value: StoreEvent) => JSON.stringify({ ...value, origin })
  return {
    create(record: NewAgentRecord): ScriptCall {
      const { handle, credentialHash } = record
      return {
        name: 'killswitchCreateV1',
        keys: [keys.ledger(handle)[0], keys.credential(credentialHash), keys.agents],
        args: [
          handle,
          credentialHash,
          record.capMicros,
          record.currency,
          record.createdAt,
          record.updatedAt,
          JSON.stringify(record.policy),
        ],
      }
    },
    get(handle: string, now: number): ScriptCall {
      return { name: 'killswitchGetV1', keys: keys.ledger(handle).slice(0, 3), args: [now] }
    },
    update(
      handle: string,
      patch: { capMicros?: number; policy?: AgentPolicy },
      now: number,
      audit: AuditEntry | undefined,
    ): ScriptCall {
      const policy = patch.policy === undefined ? '' : JSON.stringify(patch.policy)
      const published = event({ type: 'updated', handle })
      return {
        name: 'killswitchUpdateV1',
        keys: keys.ledger(handle),
        args: [now, patch.capMicros ?? '', policy, maxAudit, json(audit), keys.channel, published],
      }
    },
    revoke(handle: string, reason: string, now: number, audit: AuditEntry | undefined): ScriptCall {
      const published = event({ type: 'revoked', handle, reason, at: now })
      return {
        name: 'killswitchRevokeV1',
        keys: [...keys.ledger(handle), keys.revocations],
        args: [handle, reason, now, maxAudit, json(audit), keys.channel, published],
      }
    },
    reserve(request: ReserveRequest): ScriptCall {
      const { holdId, amountMicros, expiresAt, now } = request
      return {
        name: 'killswitchReserveV1',
        keys: keys.ledger(request.handle),
        args: [
          holdId,
          amountMicros,
          expiresAt,
          now,
          forgetBefore(now),
          maxAudit,
          json(request.audit),
        ],
      }
    },
    settle(request: SettleRequest): ScriptCall {
      const { holdId, costMicros, now } = request
      return {
        name: 'killswitchSettleV1',
        keys: keys.ledger(request.handle),
        args: [holdId, costMicros, now, forgetBefore(now), maxAudit, json(request.audit)],
      }
    },
    release(request: ReleaseRequest): ScriptCall {
      const { holdId, now } = request
      return {
        name: 'killswitchReleaseV1',
        keys: keys.ledger(request.handle),
        args: [holdId, now, forgetBefore(now), maxAudit, json(request.audit)],
      }
    },
    activity(handle: string, value: ActivityEvent, keep: number): ScriptCall {
      return {
        name: 'killswitchActivityV1',
        keys: [keys.ledger(handle)[0], keys.activity(handle)],
        args: [JSON.stringify(value), Math.max(1, Math.floor(keep))],
      }
    },
    mark(handle: string, key: string): ScriptCall {
      return {
        name: 'killswitchMarkV1',
        keys: [keys.ledger(handle)[0], keys.marks(handle)],
        args: [key],
      }
    },
  }
}

export type ScriptCalls = ReturnType<typeof scriptCalls>
