// The Store operations as calls of the Lua scripts in redis-scripts.ts: which keys, which
// arguments in which order. Kept apart from the store, which only sends them and reads the
// replies, so that each script's argument list can be read beside its ARGV comment.

import { randomUUID } from 'node:crypto'
import type {
  AuditEntry,
  NewAgentRecord,
  ReleaseRequest,
  ReserveRequest,
  SettleRequest,
  Store,
  StoreEvent,
} from '@killswitch/core'
import { NO_ACTIVITY } from './redis-activity-mirror.js'
import type { RedisKeys } from './redis-keys.js'
import type { ScriptName } from './redis-scripts.js'
import type { ClusterScriptName } from './redis-scripts-cluster.js'
import type { ViewScriptName } from './redis-scripts-views.js'

export type RenewRequest = Parameters<Store['renew']>[0]
export type AgentPatch = Parameters<Store['updateAgent']>[1]
export type BudgetRecord = Parameters<Store['createBudget']>[0]
export type UsageRecord = Awaited<ReturnType<Store['readUsage']>>[number]
export type OpenApprovalRequest = Parameters<Store['openApproval']>[0]
export type DecideApprovalRequest = Parameters<Store['decideApproval']>[0]
export type LeaveApprovalRequest = Parameters<Store['leaveApproval']>[0]
export type ApprovalRecord = Awaited<ReturnType<Store['decideApproval']>>

export interface ScriptCall {
  name: ScriptName | ClusterScriptName | ViewScriptName
  keys: string[]
  args: (string | number)[]
  /**
   * Called with the script's reply as soon as it arrives, in the order Redis ran the scripts
   * of this connection (the activity mirror counts on that order; an awaited reply may be
   * resumed later than another's).
   */
  onReply?: ((reply: unknown) => void) | undefined
}

export interface ScriptCallContext {
  keys: RedisKeys
  /** Tags this store's events, so that its own subscription skips them. */
  origin: string
  /** Whose clock judges expiry: Redis's (`TIME`) or the caller's `now`. */
  clock: 'server' | 'caller'
  holdRetentionMs: number
  /** Entries kept per agent, only when the user set such a count (the oldest are trimmed). */
  maxAuditEntriesPerAgent?: number | undefined
  /** How long audit entries are kept (ms of the store's clock); kept for good without it. */
  auditRetentionMs?: number | undefined
}

const json = (value: AuditEntry | undefined) => (value ? JSON.stringify(value) : '')

/**
 * A number as the scripts read it: its decimal text, so that NaN, Infinity, 1e21, -100 or
 * 0.5 arrive as text the scripts refuse; anything but a number arrives as text they refuse.
 */
export const numberArg = (value: unknown): string =>
  typeof value === 'number' ? String(value) : 'not-a-number'

/** Where the ledger's fields go in a caller's entry: unique per process. */
const FIELDS_MARK = `killswitch-ledger-fields-${randomUUID()}`

/** A hold id, run id or budget id is checked as core's checkId does (UTF-16 length). */
export const validId = (value: unknown) =>
  typeof value === 'string' && value.length > 0 && value.length <= 200

/**
 * A caller's entry for a script that completes it as ledger.ts does (`data.outcome`,
 * `data.levels`): the entry without those two fields, cut where they go (head, tail), and
 * the caller's own values of them as JSON ('' when absent), which the script keeps unless it
 * sets them. Four empty strings without an entry.
 */
export function entryArgs(audit: AuditEntry | undefined): [string, string, string, string, string] {
  if (!audit) return ['', '', '', '', '']
  const { outcome, levels, grants, ...rest } = audit.data ?? {}
  const text = JSON.stringify({ ...audit, data: { ...rest, [FIELDS_MARK]: 0 } })
  const mark = `${JSON.stringify(FIELDS_MARK)}:0`
  const at = text.lastIndexOf(mark)
  return [
    text.slice(0, at),
    text.slice(at + mark.length),
    JSON.stringify(outcome) ?? '',
    JSON.stringify(levels) ?? '',
    JSON.stringify(grants) ?? '',
  ]
}

/**
 * Builds the script calls of one store.
 *
 * @example
 * const calls = scriptCalls({ keys: redisKeys('killswitch:'), origin, clock: 'server', holdRetentionMs })
 * const { name, keys, args } = calls.reserve(request)
 */
export function scriptCalls(context: ScriptCallContext) {
  const { keys, origin } = context
  const header = (now: unknown) => [
    context.clock,
    numberArg(now),
    context.holdRetentionMs,
    `${context.maxAuditEntriesPerAgent ?? ''},${context.auditRetentionMs ?? ''}`,
  ]
  const event = (value: StoreEvent) => JSON.stringify({ ...value, origin })
  return {
    create(record: NewAgentRecord): ScriptCall {
      const { handle, credentialHash } = record
      return {
        name: 'killswitchCreateV2',
        keys: [keys.ledger(handle)[0], keys.credential(credentialHash), keys.agents],
        args: [
          ...header(record.createdAt),
          handle,
          credentialHash,
          numberArg(record.capMicros),
          record.currency,
          numberArg(record.createdAt),
          numberArg(record.updatedAt),
          JSON.stringify(record.policy),
          JSON.stringify(record.limits ?? []),
          JSON.stringify(record.budgets ?? []),
        ],
      }
    },
    get(handle: string, now: number): ScriptCall {
      return { name: 'killswitchGetV2', keys: keys.ledger(handle), args: header(now) }
    },
    find(credentialHash: string, now: number): ScriptCall {
      return {
        name: 'killswitchFindV2',
        keys: [keys.credential(credentialHash)],
        args: [...header(now), keys.prefix],
      }
    },
    list(now: number): ScriptCall {
      return { name: 'killswitchListV2', keys: [keys.agents], args: [...header(now), keys.prefix] }
    },
    update(
      handle: string,
      patch: AgentPatch,
      now: number,
      audit: AuditEntry | undefined,
    ): ScriptCall {
      const policy = patch.policy === undefined ? '' : JSON.stringify(patch.policy)
      const cap = patch.capMicros === undefined ? '' : numberArg(patch.capMicros)
      const limits = patch.limits === undefined ? '' : JSON.stringify(patch.limits)
      // A malformed id is sent as false: the script names it in its turn (ledger.ts's order).
      const budgets =
        patch.budgets === undefined
          ? ''
          : JSON.stringify(patch.budgets.map((id) => (validId(id) ? id : false)))
      return {
        name: 'killswitchUpdateV2',
        keys: keys.ledger(handle),
        args: [
          ...header(now),
          cap,
          policy,
          limits,
          budgets,
          json(audit),
          keys.channel,
          event({ type: 'updated', handle }),
          keys.levelPrefix(handle),
          patch.policyFrom ?? '',
        ],
      }
    },
    revoke(handle: string, reason: string, now: number, audit: AuditEntry | undefined): ScriptCall {
      const published = event({ type: 'revoked', handle, reason, at: now })
      return {
        name: 'killswitchRevokeV2',
        keys: [...keys.ledger(handle), keys.revocations],
        args: [...header(now), handle, reason, json(audit), keys.channel, published],
      }
    },
    /**
     * `zones`: the windows of each time zone the client knows (redis-lua-levels.ts);
     * `activity`: the ARGV of the call's activity (redis-activity-mirror.ts).
     */
    reserve(
      request: ReserveRequest,
      zones: string,
      activity: readonly (string | number)[] = NO_ACTIVITY,
    ): ScriptCall {
      const { holdId, amountMicros, ttlMs, now, run } = request
      return {
        name: 'killswitchReserveV2',
        keys: [
          ...keys.ledger(request.handle),
          keys.activity(request.handle),
          keys.activityState(request.handle),
        ],
        args: [
          ...header(now),
          holdId,
          numberArg(amountMicros),
          numberArg(ttlMs),
          ...entryArgs(request.audit),
          keys.levelPrefix(request.handle),
          JSON.stringify(request.budgets ?? []),
          run ? String(run.id) : '',
          run ? (validId(run.id) ? '1' : '0') : '',
          run?.capMicros === undefined ? '' : numberArg(run.capMicros),
          run?.parentId === undefined ? '' : String(run.parentId),
          run?.parentId !== undefined && validId(run.parentId) ? '1' : '0',
          zones,
          request.label ?? '',
          ...activity,
        ],
      }
    },
    renew(request: RenewRequest): ScriptCall {
      const { holdId, ttlMs, now } = request
      return {
        name: 'killswitchRenewV2',
        keys: keys.ledger(request.handle),
        args: [...header(now), holdId, numberArg(ttlMs)],
      }
    },
    settle(request: SettleRequest): ScriptCall {
      const { holdId, costMicros, now } = request
      return {
        name: 'killswitchSettleV2',
        keys: keys.ledger(request.handle),
        args: [
          ...header(now),
          holdId,
          numberArg(costMicros),
          ...entryArgs(request.audit),
          keys.levelPrefix(request.handle),
          request.onlyIfLapsed === true ? '1' : '',
          request.atMostCharged === true ? '1' : '',
          request.unreconciled === true ? '1' : '',
        ],
      }
    },
    release(request: ReleaseRequest): ScriptCall {
      const { holdId, now } = request
      return {
        name: 'killswitchReleaseV2',
        keys: keys.ledger(request.handle),
        args: [
          ...header(now),
          holdId,
          ...entryArgs(request.audit),
          keys.levelPrefix(request.handle),
        ],
      }
    },
    createBudget(record: BudgetRecord): ScriptCall {
      return {
        name: 'killswitchCreateBudgetV2',
        keys: [],
        args: [
          ...header(record.createdAt),
          keys.prefix,
          String(record.id),
          validId(record.id) ? '1' : '0',
          JSON.stringify(record.limits ?? []),
          record.timeZone ?? '',
          record.parentId ?? '',
          numberArg(record.createdAt),
          numberArg(record.updatedAt),
        ],
      }
    },
    updateBudget(
      id: string,
      patch: { limits?: BudgetRecord['limits']; timeZone?: string },
      now: number,
    ): ScriptCall {
      return {
        name: 'killswitchUpdateBudgetV2',
        keys: [],
        args: [
          ...header(now),
          keys.prefix,
          id,
          patch.limits === undefined ? '' : JSON.stringify(patch.limits),
          patch.timeZone ?? '',
        ],
      }
    },
    budgets(ids: string[]): ScriptCall {
      return { name: 'killswitchBudgetsV2', keys: [], args: [keys.prefix, ...ids] }
    },
    usage(windowKeys: readonly string[]): ScriptCall {
      return {
        name: 'killswitchUsageV2',
        keys: [],
        args: windowKeys.map((key) => `${keys.prefix}usage:${key}`),
      }
    },
    /** Window keys of one slot (`slot`: its key prefix) read on Redis's clock: zones as sent. */
    windowUsage(slot: string, windowKeys: readonly string[], zones: string): ScriptCall {
      return {
        name: 'killswitchWindowUsageV1',
        keys: [keys.usage(windowKeys[0] as string)],
        args: [slot, zones, ...windowKeys],
      }
    },
    auditAppend(handle: string, entries: readonly AuditEntry[]): ScriptCall {
      return {
        name: 'killswitchAuditAppendV2',
        keys: keys.ledger(handle),
        args: [...header(0), ...entries.map((entry) => JSON.stringify(entry))],
      }
    },
    auditPrune(handle: string, now: number): ScriptCall {
      return {
        name: 'killswitchAuditPruneV1',
        keys: [keys.ledger(handle)[0], keys.audit(handle)],
        args: header(now),
      }
    },
    auditPage(handle: string, before: number | undefined, limit: number): ScriptCall {
      return {
        name: 'killswitchAuditPageV2',
        keys: [keys.ledger(handle)[0], keys.audit(handle)],
        args: [before === undefined ? '' : numberArg(before), limit],
      }
    },
    openApproval(request: OpenApprovalRequest): ScriptCall {
      return {
        name: 'killswitchOpenApprovalV2',
        keys: keys.ledger(request.handle),
        args: [
          ...header(request.now),
          keys.prefix,
          String(request.id),
          validId(request.id) ? '1' : '0',
          numberArg(request.requestedMicros),
          String(request.reason ?? '').slice(0, 500),
          numberArg(request.ttlMs),
          json(request.audit),
          request.waits === true ? '1' : '',
        ],
      }
    },
    leaveApproval(request: LeaveApprovalRequest): ScriptCall {
      return {
        name: 'killswitchLeaveApprovalV1',
        keys: [keys.ledger(request.handle)[0] as string],
        args: [
          ...header(request.now),
          keys.prefix,
          String(request.id),
          String(request.handle),
          numberArg(request.requestedMicros),
        ],
      }
    },
    decideApproval(request: DecideApprovalRequest): ScriptCall {
      const { grant } = request
      return {
        name: 'killswitchDecideApprovalV2',
        keys: [],
        args: [
          ...header(request.now),
          keys.prefix,
          String(request.id),
          validId(request.id) ? '1' : '0',
          request.status,
          String(request.by),
          request.reason === undefined ? '' : String(request.reason).slice(0, 500),
          request.reason === undefined ? '0' : '1',
          grant ? numberArg(grant.amountMicros) : '',
          grant ? numberArg(grant.ttlMs) : '',
          grant ? '1' : '0',
          json(request.audit),
          keys.channel,
          origin,
        ],
      }
    },
    /** The header of the ledger scripts, for the cluster's own calls. */
    header,
    /** An event as published on the channel (with this store's origin). */
    event,
    approvals(now: number, status: string | undefined, ids: string[]): ScriptCall {
      return {
        name: 'killswitchApprovalsV2',
        keys: [],
        args: [...header(now), keys.prefix, status ?? '', ...ids],
      }
    },
    /** `activity`: the ARGV of recording it (redis-activity-mirror.ts). */
    activity(handle: string, activity: readonly (string | number)[]): ScriptCall {
      return {
        name: 'killswitchActivityV2',
        keys: [keys.ledger(handle)[0], keys.activity(handle), keys.activityState(handle)],
        args: [...activity],
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
