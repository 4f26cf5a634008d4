// The Lua scripts of the Redis store. Redis runs a script as one atomic step (no other
// command runs in between), so every ledger transition is checked and written in one place,
// on the server: there is no read-modify-write from the client that two processes could
// interleave. Each is the port of one transition of core's ledger/ledger.ts, over the
// storage in redis-lua-ledger.ts. They are registered with ioredis `defineCommand`, which
// sends EVALSHA and falls back to EVAL when the server has lost its script cache.
//
// Every ledger script takes ARGV[1..4] = clock ('server' | 'caller'), now (the caller's),
// holdRetentionMs, audit policy ('max,retention', redis-lua-ledger.ts); then its own arguments; then buffered audit entries of the
// agent. KEYS[1..6] = agent, hold, holdexp, holddone, holdprune, audit (redis-keys.ts).
// Replies: {'invalid', field} before anything is written; {'not_found'}; or an outcome and
// the agent's record (HGETALL pairs).

import { ACTIVITY_LUA } from './redis-lua-activity.js'
import { LEDGER_LUA } from './redis-lua-ledger.js'
import { LEVELS_LUA } from './redis-lua-levels.js'
import { RESERVE_BODY, RESERVE_HOOKS } from './redis-lua-reserve.js'
import { approvalScripts } from './redis-scripts-approvals.js'

/** The ledger chunk with budgets and windows: for the scripts that touch levels. */
export const LEDGER_LEVELS_LUA = `${LEDGER_LUA}${LEVELS_LUA}`
const APPROVAL_SCRIPTS = approvalScripts(LEDGER_LUA)

const AGENT_KEYS = 'use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])'

// ARGV: header, handle, credentialHash, capMicros, currency, createdAt, updatedAt, policy,
// limits, budgets. KEYS: agent, credential index, agents index
const CREATE = `${LEDGER_LUA}
-- A cap has one bound wherever it is set, at creation as at an update (ledger.ts checkNewAgent).
local bad_cap = bad_micros('capMicros', ARGV[7])
if bad_cap then return {'invalid', bad_cap} end
if bad_time(ARGV[9]) then return {'invalid', 'createdAt'} end
if bad_time(ARGV[10]) then return {'invalid', 'updatedAt'} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], 'handle', ARGV[5], 'credentialHash', ARGV[6], 'status', 'active',
  'capMicros', ARGV[7], 'spentMicros', '0', 'heldMicros', '0', 'unreconciledMicros', '0',
  'currency', ARGV[8], 'createdAt', ARGV[9], 'updatedAt', ARGV[10], 'policy', ARGV[11],
  'limits', ARGV[12], 'budgets', ARGV[13])
redis.call('SET', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[9], ARGV[5])
return {'ok', redis.call('HGETALL', KEYS[1])}
`

/** The agent as of now: its lapsed holds charged first (the reference's getAgent). */
const GET_BODY = `
${AGENT_KEYS}
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
if redis.call('EXISTS', K.agent) == 0 then return {'not_found'} end
sweep(money(), clock())
trim_audit()
return {'ok', record()}
`

// KEYS: the credential index entry. ARGV: header, prefix
const FIND = `${LEDGER_LUA}
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
local handle = redis.call('GET', KEYS[1])
if not handle then return {'not_found'} end
K = agent_keys(ARGV[5], handle)
if redis.call('EXISTS', K.agent) == 0 then return {'not_found'} end
sweep(money(), clock())
trim_audit()
return {'ok', record()}
`

// Every agent in one step (one round trip), each swept as getAgent would.
// KEYS: the agents index. ARGV: header, prefix
const LIST = `${LEDGER_LUA}
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
local now = clock()
local records = {}
for _, handle in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  K = agent_keys(ARGV[5], handle)
  if redis.call('EXISTS', K.agent) == 1 then
    sweep(money(), now)
    trim_audit()
    records[#records + 1] = record()
  end
end
return {'ok', records}
`

// ARGV: header, holdId, ttlMs, ...buffered. Replies {'renewed', expiresAt} or {'none', ''},
// then, for a revoked agent, its reason and when (ledger.ts's renew tells the holder).
const RENEW_BODY = `
${AGENT_KEYS}
local id = ARGV[5]
local bad = bad_id(id) or bad_ttl(ARGV[6]) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
local ttl, now = tonumber(ARGV[6]), clock()
push_buffered(7)
if redis.call('EXISTS', K.agent) == 0 then trim_audit() return {'not_found'} end
sweep(money(), now)
trim_audit()
local status = redis.call('HMGET', K.agent, 'status', 'revokedReason', 'revokedAt')
local function answer(reply)
  if status[1] == 'revoked' then
    table.insert(reply, status[2] or '')
    table.insert(reply, status[3] or tostring(now))
  end
  return reply
end
local h = live_hold(id)
if not h then return answer({'none', ''}) end
-- Never shortens a lease.
local expires = math.max(h.expires, now + ttl)
if expires ~= h.expires then
  h.expires = expires
  save_live(h)
end
return answer({'renewed', int(expires)})
`

// ARGV: header, holdId, costMicros, entry (head, tail, outcome, levels, grants), prefix,
// onlyIfLapsed ('1' or ''), atMostCharged ('1' or ''), unreconciled ('1' or ''), ...buffered
const SETTLE_BODY = `
${AGENT_KEYS}
local id = ARGV[5]
local bad = bad_id(id) or bad_micros('costMicros', ARGV[6]) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
local cost, now = tonumber(ARGV[6]), clock()
PREFIX = ARGV[12]
push_buffered(16)
if redis.call('EXISTS', K.agent) == 0 then trim_audit() return {'not_found'} end
local a = sweep(money(), now)
prune(a, now, false)
local h = find_hold(id)
if h and h.state == 'settled' then
  -- raiseSettled() of ledger.ts: a higher figure raises a settled charge, audited.
  if cost <= h.charged or ARGV[13] == '1' or ARGV[15] == '1' then
    trim_audit()
    return {'duplicate', record()}
  end
  a.spent = saturated(a.spent + cost - h.charged)
  apply_levels(h.levels, cost - h.charged, 0)
  save_done(id, 'settled', h.amount, h.expires, cost, now, h.levels)
  save_money(a)
  audit_completed(entry_args(7), 'raised', h.levels, nil, h.charged)
  trim_audit()
  return {'raised', record()}
end
if ARGV[15] == '1' and h and h.state == 'lapsed' then trim_audit() return {'duplicate', record()} end
if ARGV[13] == '1' and not (h and h.state == 'lapsed') then
  trim_audit()
  return {'not_lapsed', record()}
end
if ARGV[14] == '1' and h and h.state == 'lapsed' and cost > h.charged then
  trim_audit()
  return {'above_charge', record(), int(h.charged)}
end
local outcome
local levels = {}
local replaces = h and h.state == 'lapsed' and h.charged or nil
if h and h.state == 'held' then
  a.held = a.held - h.amount
  a.spent = saturated(a.spent + cost)
  apply_levels(h.levels, cost, -h.amount)
  drop_live(h)
  levels = h.levels
  -- A bound, not the truth: charged as a lapse is, and corrected the same ways.
  if ARGV[15] == '1' then
    a.unrec = a.unrec + cost
    outcome = 'unreconciled'
  else
    outcome = 'settled'
  end
elseif h and h.state == 'lapsed' then
  -- The truth arrived: the real cost replaces the lapse's charge, once.
  a.spent = saturated(a.spent + cost - h.charged)
  a.unrec = a.unrec - h.charged
  apply_levels(h.levels, cost - h.charged, 0)
  levels = h.levels
  outcome = 'corrected'
else
  -- Never held here, pruned, or released: money reported spent is recorded as spent (on the
  -- agent only: its windows are unknown).
  a.spent = saturated(a.spent + cost)
  outcome = 'late'
end
-- Window keys kept where a later settle may raise the charge (settle() of ledger.ts).
local kept = (outcome == 'corrected' or outcome == 'unreconciled') and levels or {}
save_done(id, outcome == 'unreconciled' and 'lapsed' or 'settled', h and h.amount or 0,
  h and h.expires or now, cost, now, levels, kept)
save_money(a)
audit_completed(entry_args(7), outcome, levels, nil, replaces)
trim_audit()
return {outcome, record()}
`

// ARGV: header, holdId, entry (head, tail, outcome, levels, grants), prefix, ...buffered
const RELEASE_BODY = `
${AGENT_KEYS}
local id = ARGV[5]
local bad = bad_id(id) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
local now = clock()
PREFIX = ARGV[11]
push_buffered(12)
if redis.call('EXISTS', K.agent) == 0 then trim_audit() return {'not_found'} end
local a = sweep(money(), now)
prune(a, now, false)
local h = find_hold(id)
if not h then
  -- Released before its reserve landed: remember it, so that reserve cannot hold it later.
  save_done(id, 'released', 0, now, 0, now, {})
  -- Keeps the finished holds' keys while a charge is unreconciled (save_money).
  save_money(a)
  trim_audit()
  return {'none', record()}
end
if h.state ~= 'held' and h.state ~= 'lapsed' then trim_audit() return {'none', record()} end
local replaces = h.state == 'lapsed' and h.charged or nil
local outcome = give_back(a, h)
save_done(id, 'released', h.amount, h.expires, 0, now, h.levels)
save_money(a)
audit_completed(entry_args(6), outcome, h.levels, nil, replaces)
trim_audit()
return {'released', record()}
`

// ARGV: header, capMicros or '', policy or '', limits or '', budgets or '' (JSON; an id
// the client found malformed is false), audit, channel, event, prefix, policyFrom or ''
// (the policy JSON the new one was made from: ledger.ts's ConcurrentUpdateError), ...buffered
const UPDATE_BODY = `
${AGENT_KEYS}
PREFIX = ARGV[12]
local bad = (ARGV[5] ~= '' and bad_micros('capMicros', ARGV[5])) or
  (ARGV[7] ~= '' and bad_limits('limits', cjson.decode(ARGV[7]))) or nil
if bad then return {'invalid', bad} end
if ARGV[8] ~= '' then
  for i, bid in ipairs(cjson.decode(ARGV[8])) do
    if bid == false then return {'invalid', 'budgets.' .. (i - 1), 'id'} end
    if not budget(bid) then return {'invalid', 'budgets.' .. (i - 1), 'missing', bid} end
  end
end
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
local now = clock()
push_buffered(14)
if redis.call('EXISTS', K.agent) == 0 then trim_audit() return {'not_found'} end
sweep(money(), now)
if ARGV[13] ~= '' and redis.call('HGET', K.agent, 'policy') ~= ARGV[13] then
  trim_audit()
  return {'conflict'}
end
if ARGV[5] ~= '' then redis.call('HSET', K.agent, 'capMicros', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', K.agent, 'policy', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', K.agent, 'limits', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', K.agent, 'budgets', ARGV[8]) end
redis.call('HSET', K.agent, 'updatedAt', CALLER_NOW)
if ARGV[9] ~= '' then audit(ARGV[9]) end
trim_audit()
redis.call('PUBLISH', ARGV[10], ARGV[11])
return {'ok', record()}
`

// KEYS: the six ledger keys, then the revocations index (sorted set: handle -> when).
// ARGV: header, handle, reason, audit, channel, event, ...buffered. No sweep, as in ledger.ts.
/**
 * A revocation is never refused for memory: a Redis at its `maxmemory` (noeviction, as the
 * store requires) refuses every script that writes, and a runaway agent's own activity is
 * what fills it (red team rt41b: revoke refused for 20 s, the agent still active after).
 * `allow-oom` lets this one small write through; everything else stays refused, fail closed.
 * A shebang script must name its cross-slot access, as a plain EVAL need not (a cluster's
 * revoke touches only the agent's slot, but the flag keeps it as it was).
 */
const REVOKE_FLAGS = '#!lua flags=allow-oom,allow-cross-slot-keys\n'

const REVOKE = `${REVOKE_FLAGS}${LEDGER_LUA}
${AGENT_KEYS}
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
push_buffered(10)
if redis.call('EXISTS', K.agent) == 0 then trim_audit() return {'not_found'} end
if redis.call('HGET', K.agent, 'status') == 'revoked' then trim_audit() return {'already', record()} end
redis.call('HSET', K.agent, 'status', 'revoked', 'revokedAt', CALLER_NOW, 'revokedReason', ARGV[6],
  'updatedAt', CALLER_NOW)
-- Scored by the Redis server's clock, one clock for the whole fleet: a subscriber that
-- connects later catches up on the revocations made since it subscribed (redis-event-feed.ts).
local t = redis.call('TIME')
redis.call('ZADD', KEYS[7], t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)), ARGV[5])
if ARGV[7] ~= '' then audit(ARGV[7]) end
trim_audit()
-- Published by the same atomic step: no process can see the revocation without the event
-- having been sent.
redis.call('PUBLISH', ARGV[8], ARGV[9])
return {'revoked', record()}
`

// ARGV: header, prefix, id, id valid ('1'), limits (JSON), timeZone or '', parentId or '',
// createdAt, updatedAt. Fields of the record are stored as the client wrote them.
const CREATE_BUDGET = `${LEDGER_LEVELS_LUA}
PREFIX = ARGV[5]
if ARGV[7] ~= '1' then return {'invalid', 'id'} end
local bad = bad_limits('limits', cjson.decode(ARGV[8]))
if bad then return {'invalid', bad} end
local key = budget_key(ARGV[6])
if redis.call('EXISTS', key) == 1 then return {'invalid', 'id', 'exists'} end
redis.call('HSET', key, 'id', ARGV[6], 'limits', ARGV[8], 'createdAt', ARGV[11],
  'updatedAt', ARGV[12])
if ARGV[9] ~= '' then redis.call('HSET', key, 'timeZone', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', key, 'parentId', ARGV[10]) end
save_budget_index(ARGV[6])
return {'ok', redis.call('HGETALL', key)}
`

// ARGV: header, prefix, id, limits (JSON) or '', timeZone or ''
const UPDATE_BUDGET = `${LEDGER_LEVELS_LUA}
PREFIX = ARGV[5]
local key = budget_key(ARGV[6])
if redis.call('EXISTS', key) == 0 then return {'invalid', 'id', 'missing'} end
local bad = (ARGV[7] ~= '' and bad_limits('limits', cjson.decode(ARGV[7]))) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
if ARGV[7] ~= '' then redis.call('HSET', key, 'limits', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', key, 'timeZone', ARGV[8]) end
redis.call('HSET', key, 'updatedAt', CALLER_NOW)
return {'ok', redis.call('HGETALL', key)}
`

// ARGV: prefix, then ids (none: every budget, in creation order). Replies HGETALL of each.
const BUDGETS = `
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ARGV < 2 then ids = redis.call('ZRANGE', ARGV[1] .. 'budgets', 0, -1) end
local records = {}
for _, id in ipairs(ids) do
  records[#records + 1] = redis.call('HGETALL', ARGV[1] .. 'budget:' .. id)
end
return records
`

// ARGV: usage hashes. Replies spent, held of each (0 for a window never used).
const USAGE = `
local out = {}
for _, key in ipairs(ARGV) do
  local v = redis.call('HMGET', key, 'spentMicros', 'heldMicros')
  out[#out + 1] = v[1] or '0'
  out[#out + 1] = v[2] or '0'
end
return out
`

// Buffered entries of one agent (appendAudit), each with its seq. KEYS: the ledger keys.
// ARGV: header, ...entries. Dropped when the agent does not exist (as the reference does);
// an entry whose buffer id the agent wrote already is skipped (push_buffered).
const AUDIT_APPEND = `${LEDGER_LUA}
${AGENT_KEYS}
push_buffered(5)
trim_audit()
return 1
`

// A page of the audit log: entries with seq below `before` ('' for none), the last `limit`.
// Seqs are consecutive and the list keeps the newest, so the page is an index range.
// KEYS: agent, audit. ARGV: before or '', limit
const AUDIT_PAGE = `
local total = tonumber(redis.call('HGET', KEYS[1], 'auditSeq') or '0')
local len = redis.call('LLEN', KEYS[2])
local first = total - len + 1
local stop = len
if ARGV[1] ~= '' then stop = math.max(0, math.min(len, math.ceil(tonumber(ARGV[1])) - first)) end
local start = math.max(0, stop - tonumber(ARGV[2]))
if stop <= start then return {} end
return redis.call('LRANGE', KEYS[2], start, stop - 1)
`

// Activity alone (a free tool's call). KEYS: agent, activity list, activity state. ARGV:
// activity (from 1). Replies as the reserve does, or {-1} for an unknown agent (nothing kept).
const ACTIVITY = `${ACTIVITY_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
return record_activity(KEYS[2], KEYS[3], (activity_args(1)))
`

// The audit retention of one agent (the store runs it for every agent in turn, in the
// background: redis-audit-retention.ts). KEYS: agent, audit. ARGV: header. Replies how many
// entries it deleted.
const AUDIT_PRUNE = `${LEDGER_LUA}
use_keys(KEYS[1], '', '', '', '', KEYS[2])
if bad_time(CALLER_NOW) then return 0 end
return prune_audit(clock())
`

// KEYS: agent, marks set. ARGV: key. -1 when the agent is unknown.
const MARK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('SADD', KEYS[2], ARGV[1])
`

/** A script as the chunk it starts with and its body (a cluster runs the body its own way). */
export interface ScriptParts {
  chunk: string
  body: string
}

const RESERVE_CHUNK = `${LEDGER_LEVELS_LUA}${ACTIVITY_LUA}${RESERVE_HOOKS}`

/** The scripts of one agent's keys, which Redis Cluster runs on the agent's slot. */
export const AGENT_SCRIPTS = {
  killswitchGetV2: { chunk: LEDGER_LUA, body: GET_BODY },
  killswitchReserveV2: { chunk: RESERVE_CHUNK, body: RESERVE_BODY },
  killswitchRenewV2: { chunk: LEDGER_LUA, body: RENEW_BODY },
  killswitchSettleV2: { chunk: LEDGER_LEVELS_LUA, body: SETTLE_BODY },
  killswitchReleaseV2: { chunk: LEDGER_LEVELS_LUA, body: RELEASE_BODY },
  killswitchUpdateV2: { chunk: LEDGER_LEVELS_LUA, body: UPDATE_BODY },
} as const satisfies Record<string, ScriptParts>

const lua = ({ chunk, body }: ScriptParts) => `${chunk}${body}`

/**
 * The scripts, by the command name they are defined under on the client. V2: the ledger of
 * leases and lapse charges (V1 released lapsed holds and kept other keys).
 */
export const SCRIPTS = {
  killswitchCreateV2: { numberOfKeys: 3, lua: CREATE },
  killswitchGetV2: { numberOfKeys: 6, lua: lua(AGENT_SCRIPTS.killswitchGetV2) },
  killswitchFindV2: { numberOfKeys: 1, lua: FIND },
  killswitchListV2: { numberOfKeys: 1, lua: LIST },
  killswitchReserveV2: { numberOfKeys: 8, lua: lua(AGENT_SCRIPTS.killswitchReserveV2) },
  killswitchRenewV2: { numberOfKeys: 6, lua: lua(AGENT_SCRIPTS.killswitchRenewV2) },
  killswitchSettleV2: { numberOfKeys: 6, lua: lua(AGENT_SCRIPTS.killswitchSettleV2) },
  killswitchReleaseV2: { numberOfKeys: 6, lua: lua(AGENT_SCRIPTS.killswitchReleaseV2) },
  killswitchUpdateV2: { numberOfKeys: 6, lua: lua(AGENT_SCRIPTS.killswitchUpdateV2) },
  killswitchCreateBudgetV2: { numberOfKeys: 0, lua: CREATE_BUDGET },
  killswitchUpdateBudgetV2: { numberOfKeys: 0, lua: UPDATE_BUDGET },
  killswitchBudgetsV2: { numberOfKeys: 0, lua: BUDGETS },
  killswitchUsageV2: { numberOfKeys: 0, lua: USAGE },
  killswitchRevokeV2: { numberOfKeys: 7, lua: REVOKE },
  killswitchAuditAppendV2: { numberOfKeys: 6, lua: AUDIT_APPEND },
  killswitchAuditPageV2: { numberOfKeys: 2, lua: AUDIT_PAGE },
  killswitchAuditPruneV1: { numberOfKeys: 2, lua: AUDIT_PRUNE },
  ...APPROVAL_SCRIPTS,
  killswitchActivityV2: { numberOfKeys: 3, lua: ACTIVITY },
  killswitchMarkV1: { numberOfKeys: 2, lua: MARK },
} as const

export type ScriptName = keyof typeof SCRIPTS
