// The Lua scripts of Redis Cluster mode. A cluster runs a script on one node, over keys of one
// hash slot, so a reservation whose levels sit on different slots is held level by level
// (redis-cluster-ledger.ts drives it):
//
// 1. `killswitchCReserve` on the agent's slot (`{a:<handle>}`): the cap and the agent's
//    windows, checked and held as the single-node reserve does. An agent that draws on no
//    budget is done here, in one round trip. Otherwise the hold is left *pending* (no audit
//    entry yet) and the reply lists the budgets to visit, with a version number.
// 2. `killswitchCBudgetHold` on each budget's slot (`{b:<id>}`), in the order collectLevels()
//    visits them (each budget, then its parents): that budget's windows, checked and held.
//    It remembers the hold (id -> version, held, charged, window keys), so a retried step
//    holds once; it replies the budget's parent, the next slot to visit.
// 3. `killswitchCConfirm` on the agent's slot: the hold now lists every window it took, and
//    its audit entry is written. Or, when a budget refused, `killswitchCUndo`: the agent gives
//    back its hold, and each budget held so far is told to give back its hold (below).
//
// Every later change of a hold (settle, release, a lapse found by any sweep, a late
// settlement's correction) happens on the agent's slot, which also writes the new state of
// the hold's budget share (held, charged) into the agent's *outbox*, versioned by an
// agent-wide counter. Every agent script replies its outbox; the client applies each entry to
// the budget slots (`killswitchCBudgetSync`: the difference from what that slot last applied,
// once per version, so a retry or a second process applying it too cannot double-apply) and
// then clears it (`killswitchCAck`). An entry not yet applied (a crash) is applied by the next
// call that touches that agent.
//
// The scripts of the agent's slot are the single-node scripts (redis-scripts.ts) with four
// helpers replaced: apply_levels skips budget windows (they live in other slots), save_done
// and sweep write the outbox, and prune forgets pending marks too. KEYS: the six ledger keys,
// then `pending` (hash: hold id -> version, while its budgets are being held) and `outbox`.

import { ACTIVITY_LUA } from './redis-lua-activity.js'
import { LEDGER_LUA } from './redis-lua-ledger.js'
import { LEVELS_LUA } from './redis-lua-levels.js'
import { SCRIPTS } from './redis-scripts.js'
import { approvalScripts } from './redis-scripts-approvals.js'

const APPROVALS = approvalScripts(LEDGER_LUA)

const LEDGER_LEVELS_LUA = `${LEDGER_LUA}${LEVELS_LUA}`

/** The body of a single-node script: what follows the chunk it starts with. */
function bodyOf(lua: string, chunk: string): string {
  if (!lua.startsWith(chunk))
    throw new Error('a single-node script no longer starts with its chunk')
  return lua.slice(chunk.length)
}

const CLUSTER_LUA = `
local PENDING, OUTBOX = KEYS[7], KEYS[8]

local base_apply_levels = apply_levels
-- Budget windows live in their budgets' slots: only the agent's own are applied here.
local function agent_only(keys)
  local out = {}
  for _, key in ipairs(keys or {}) do
    if string.sub(key, 1, 6) == 'agent:' then out[#out + 1] = key end
  end
  return out
end
local function budget_only(keys)
  local out = {}
  for _, key in ipairs(keys or {}) do
    if string.sub(key, 1, 7) == 'budget:' then out[#out + 1] = key end
  end
  return out
end
local function apply_levels(keys, spent, held)
  -- The agent's slot prefix ends at its hash tag's '}' (handles hold none).
  PREFIX = string.match(K.agent, '^(.*})')
  base_apply_levels(agent_only(keys), spent, held)
end

-- The budget share of a hold is now (held, charged): queued for the budget slots.
local function outbox_put(id, held, charged, keys)
  local budget_keys = budget_only(keys)
  if #budget_keys == 0 then return end
  local version = redis.call('HINCRBY', K.agent, 'syncSeq', 1)
  redis.call('HSET', OUTBOX, id, cjson.encode({ v = int(version), held = int(held),
    charged = int(charged), levels = budget_keys }))
end

local base_save_done = save_done
local function save_done(id, state, amount, expires, charged, now, levels)
  base_save_done(id, state, amount, expires, charged, now, levels)
  redis.call('HDEL', PENDING, id)
  outbox_put(id, 0, charged, levels)
end

local base_prune = prune
local function prune(now)
  base_prune(now)
end

-- sweep() of redis-lua-ledger.ts, its windows applied through the outbox.
local function sweep(a, now)
  local handle = redis.call('HGET', K.agent, 'handle')
  local live, expired = {}, false
  for _, g in ipairs(a.grants) do
    if tonumber(g.expiresAt) <= now then
      expired = true
      audit(grant_expired_entry(handle, g, now))
    else
      live[#live + 1] = g
    end
  end
  if expired then
    a.grants = live
    redis.call('HSET', K.agent, 'grants', grants_json(live))
  end
  local due = redis.call('ZRANGEBYSCORE', K.exp, '-inf', int(now))
  if #due == 0 then return a end
  for _, m in ipairs(due) do
    local h = live_hold(m)
    redis.call('ZREM', K.exp, m)
    if h then
      redis.call('HDEL', K.live, h.id)
      a.held = a.held - h.amount
      a.spent = a.spent + h.amount
      a.unrec = a.unrec + h.amount
      save_done(h.id, 'lapsed', h.amount, h.expires, h.amount, now, h.levels)
      if h.amount > 0 then apply_levels(h.levels, h.amount, -h.amount) end
      audit(lapsed_entry(handle, h, now))
    end
  end
  save_money(a)
  return a
end
`

/** A single-node script run on the agent's slot, its reply paired with the outbox. */
function agentScript(chunk: string, lua: string, before = ''): string {
  return `${LEDGER_LEVELS_LUA}${CLUSTER_LUA}${before}
local function body()
${bodyOf(lua, chunk)}
end
local reply = body()
return {reply, redis.call('HGETALL', OUTBOX)}
`
}

// ARGV as the single-node reserve (redis-scripts.ts), with ARGV[13] the agent's slot prefix.
// Replies as it does, or {'partial', record, expiresAt, agent window keys, budget ids, available,
// version} when budgets remain to be held.
const RESERVE_BODY = `
${'use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])'}
local id = ARGV[5]
local bad = bad_id(id) or bad_micros('amountMicros', ARGV[6]) or bad_ttl(ARGV[7]) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
local amount, ttl, now = tonumber(ARGV[6]), tonumber(ARGV[7]), clock()
PREFIX, ZONES = ARGV[13], cjson.decode(ARGV[20])
local act, buffered = activity_args(21)
local function activity() return act and record_activity(K.agent, KEYS[9], act) end
if redis.call('EXISTS', K.agent) == 0 then
  push_buffered(buffered)
  trim_audit()
  return {'not_found'}
end
local agent_levels = redis.call('HMGET', K.agent, 'limits', 'budgets')
local budget_ids = cjson.decode(agent_levels[2] or '[]')
for _, extra in ipairs(cjson.decode(ARGV[14])) do budget_ids[#budget_ids + 1] = extra end
if ARGV[16] ~= '' then budget_ids[#budget_ids + 1] = 'run:' .. ARGV[15] end
local handle = redis.call('HGET', K.agent, 'handle')
local levels = collect_levels(handle, cjson.decode(agent_levels[1] or '[]'), {}, nil, now)
local zones = missing_zones()
if #zones > 0 then return {'zones', zones, int(now)} end
push_buffered(buffered)
local a = sweep(money(), now)
prune(now)
if a.status == 'revoked' then trim_audit() return {'revoked', record()} end
local existing = find_hold(id)
if existing then
  trim_audit()
  if existing.state == 'held' then
    local version = redis.call('HGET', PENDING, id)
    if version then
      local _, available = check_levels(a, levels, 0, now)
      return {'partial', record(), int(existing.expires), existing.levels, budget_ids,
        int(available + existing.amount), version}
    end
    return {'ok', record(), int(existing.expires), existing.levels, activity()}
  end
  return {'ended', existing.state}
end
if ARGV[16] ~= '' then
  local bad_run = (ARGV[16] ~= '1' and 'run.id') or
    (ARGV[17] ~= '' and bad_micros('run.capMicros', ARGV[17])) or
    (ARGV[18] ~= '' and ARGV[19] ~= '1' and 'run.parentId') or nil
  if bad_run then trim_audit() return {'invalid_late', bad_run} end
end
local refusal, available = check_levels(a, levels, amount, now)
if refusal then trim_audit() return {'cap', record(), refusal, int(available), budget_ids} end
local keys = {}
for i, level in ipairs(levels) do keys[i] = level.key end
local expires = now + ttl
local seq = redis.call('HINCRBY', K.agent, 'holdSeq', 1)
save_live({ id = id, seq = seq, amount = amount, expires = expires, updated = now, levels = keys })
apply_levels(keys, 0, amount)
keep_windows(levels, now)
a.held = a.held + amount
save_money(a)
if #budget_ids > 0 then
  local version = redis.call('HINCRBY', K.agent, 'syncSeq', 1)
  redis.call('HSET', PENDING, id, version)
  trim_audit()
  return {'partial', record(), int(expires), keys, budget_ids, int(available), int(version)}
end
local grants = nil
if a.spent + a.held - a.cap > 0 then
  grants = {}
  for _, g in ipairs(a.grants) do
    if tonumber(g.expiresAt) > now then grants[#grants + 1] = g.approvalId end
  end
end
audit_completed(entry_args(8), nil, keys, grants)
trim_audit()
return {'ok', record(), int(expires), keys, activity()}
`

// Every budget held: the hold lists its windows and is audited, the call's activity written.
// KEYS[9]: the activity window. ARGV: header, holdId, budget window keys (JSON), entry (head,
// tail, outcome, levels, grants), activity (redis-lua-activity.ts), ...buffered
const CONFIRM_BODY = `
use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local id = ARGV[5]
local now = clock()
local act, buffered = activity_args(12)
push_buffered(buffered)
local a = sweep(money(), now)
local h = find_hold(id)
redis.call('HDEL', PENDING, id)
if not h then trim_audit() return {'ended', 'released'} end
local all = {}
for _, key in ipairs(h.levels) do all[#all + 1] = key end
for _, key in ipairs(cjson.decode(ARGV[6])) do all[#all + 1] = key end
if h.state == 'held' then
  h.levels = all
  save_live(h)
else
  -- It ended while its budgets were being held: they learn its end like any other.
  save_done(h.id, h.state, h.amount, h.expires, h.charged, now, all)
end
local grants = nil
if a.spent + a.held - a.cap > 0 then
  grants = {}
  for _, g in ipairs(a.grants) do
    if tonumber(g.expiresAt) > now then grants[#grants + 1] = g.approvalId end
  end
end
audit_completed(entry_args(7), nil, all, grants)
trim_audit()
return {'ok', record(), int(h.expires), all, act and record_activity(K.agent, KEYS[9], act)}
`

// A budget refused: the agent gives back its pending hold as if it had never been taken, and
// the budgets held so far are told to give back theirs. ARGV: header, holdId, budget keys (JSON)
const UNDO_BODY = `
use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local id = ARGV[5]
local a = money()
local h = find_hold(id)
if h and h.state == 'held' then
  a.held = a.held - h.amount
  apply_levels(h.levels, 0, -h.amount)
  drop_live(h)
elseif h and h.state == 'lapsed' then
  a.spent = a.spent - h.charged
  a.unrec = a.unrec - h.charged
  apply_levels(h.levels, -h.charged, 0)
  redis.call('HDEL', K.done, id)
  redis.call('ZREM', K.prune, id)
end
save_money(a)
redis.call('HDEL', PENDING, id)
outbox_put(id, 0, 0, cjson.decode(ARGV[6]))
return {'undone', record()}
`

// A budget slot's own sweep: a hold whose agent never told this slot how it ended (its process
// died between the steps of a reserve, before the confirm) is charged here in full, as the
// agent's slot charges a lapse, once its lease plus the longest lease has passed. Any later
// word from the agent's slot still corrects it (the difference is applied). KEYS[3]: holds by
// that time.
const BUDGET_SWEEP_LUA = `
local function budget_sweep(holds, exp, now)
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', int(now), 'LIMIT', 0, PRUNE_BATCH)
  for _, hid in ipairs(due) do
    redis.call('ZREM', exp, hid)
    local seen = redis.call('HGET', holds, hid)
    if seen then
      local r = cjson.decode(seen)
      local held = tonumber(r.held)
      if held > 0 then
        apply_levels(r.levels, held, -held)
        r.charged = int(tonumber(r.charged) + held)
        r.held = '0'
        redis.call('HSET', holds, hid, cjson.encode(r))
      end
    end
  end
end
`

// One budget's windows, checked and held (step 2). KEYS: budget record, holds, holds prune,
// holds by the time this slot charges them itself (BUDGET_SWEEP_LUA).
// ARGV: header, slot prefix, budget id, hold id, amount, version, zones (JSON), run cap or '',
// run parent or '', is a run ('1' | '0'), peek ('1': only reply {'peek', parent, room or ''},
// for the figure of a refusal made elsewhere), ttlMs. Replies {'ok', window keys, parent or '', room
// or '', created ('1' | '0')}, {'cap', refusal, room, parent}, or {'zones', [zone...], now}.
const BUDGET_HOLD = `${LEDGER_LEVELS_LUA}${BUDGET_SWEEP_LUA}
PREFIX, ZONES = ARGV[5], cjson.decode(ARGV[10])
local bid, hid, amount, version = ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local now = clock()
if ARGV[14] ~= '1' then budget_sweep(KEYS[2], KEYS[4], now) end
local record = budget(bid)
local created = false
if not record and ARGV[13] == '1' then
  record = { id = bid, tz = nil,
    limits = ARGV[11] ~= '' and { { amountMicros = tonumber(ARGV[11]), per = 'lifetime' } } or {},
    parent = ARGV[12] ~= '' and ('run:' .. ARGV[12]) or nil }
  created = true
end
if not record then
  local u = usage('budget:' .. bid .. '/lifetime@0')
  local room = int(0 - u.spent - u.held)
  if ARGV[14] == '1' then return {'peek', '', room} end
  return {'cap', {'budget', bid, 'lifetime', '', '0', int(u.spent), int(u.held)}, room, ''}
end
local levels = {}
levels_of('budget', bid, record.limits, now, record.tz, levels)
local zones = missing_zones()
if #zones > 0 then return {'zones', zones, int(now)} end
if ARGV[14] == '1' then
  -- Only the room, for the figure of a refusal made elsewhere (checkLevels' available).
  local least = ''
  for _, level in ipairs(levels) do
    local u = usage(level.key)
    local room = level.limit - u.spent - u.held
    least = least == '' and room or math.min(least, room)
  end
  return {'peek', record.parent or '', least == '' and '' or int(least)}
end
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', int(now), 'LIMIT', 0, PRUNE_BATCH)
if #old > 0 then
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('ZREM', KEYS[3], unpack(old))
end
local parent = record.parent or ''
local seen = redis.call('HGET', KEYS[2], hid)
if seen then
  local r = cjson.decode(seen)
  -- This step ran already (a retry): it holds once.
  if tonumber(r.v) >= version then
    if tonumber(r.held) > 0 then return {'ok', r.levels, parent, ''} end
    return {'ok', {}, parent, ''}
  end
end
local refusal, available = nil, nil
for _, level in ipairs(levels) do
  local u = usage(level.key)
  local room = level.limit - u.spent - u.held
  if not refusal and (room <= 0 or amount > room) then
    local r = level.refusal
    refusal = { r.level, r.budgetId or '', r.per or '', r.resetsAt and int(r.resetsAt) or '',
      int(level.limit), int(u.spent), int(u.held) }
  end
  available = available and math.min(available, room) or room
end
if refusal then return {'cap', refusal, int(available), parent} end
if created then
  local limits = ARGV[11] ~= '' and ('[{"amountMicros":' .. ARGV[11] .. ',"per":"lifetime"}]') or '[]'
  redis.call('HSET', budget_key(bid), 'id', bid, 'limits', limits, 'createdAt', int(now),
    'updatedAt', int(now))
  if record.parent then redis.call('HSET', budget_key(bid), 'parentId', record.parent) end
end
local keys = {}
for i, level in ipairs(levels) do keys[i] = level.key end
apply_levels(keys, 0, amount)
keep_windows(levels, now)
redis.call('HSET', KEYS[2], hid, cjson.encode({ v = int(version), held = int(amount),
  charged = '0', levels = keys }))
redis.call('ZADD', KEYS[3], int(now + RETENTION * 8), hid)
if amount > 0 then redis.call('ZADD', KEYS[4], int(now + tonumber(ARGV[15]) + MAX_TTL_MS), hid) end
return {'ok', keys, parent, available and int(math.max(0, available)) or '', created and '1' or '0'}
`

// An outbox entry applied to one budget's slot: the difference between the hold's new share
// and the one this slot last applied, once per version. KEYS: holds, holds prune, holds by the
// time this slot charges them itself.
// ARGV: header, slot prefix, hold id, version, held, charged
const BUDGET_SYNC = `${LEDGER_LEVELS_LUA}${BUDGET_SWEEP_LUA}
PREFIX = ARGV[5]
budget_sweep(KEYS[1], KEYS[3], clock())
local hid, version, held, charged = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local seen = redis.call('HGET', KEYS[1], hid)
local r = seen and cjson.decode(seen) or { v = '0', held = '0', charged = '0', levels = {} }
if tonumber(r.v) >= version then return 0 end
apply_levels(r.levels, charged - tonumber(r.charged), held - tonumber(r.held))
redis.call('HSET', KEYS[1], hid, cjson.encode({ v = int(version), held = int(held),
  charged = int(charged), levels = r.levels }))
redis.call('ZADD', KEYS[2], int(clock() + RETENTION * 8), hid)
if held == 0 then redis.call('ZREM', KEYS[3], hid) end
return 1
`

// Outbox entries applied everywhere: cleared unless a newer version replaced them meanwhile.
// KEYS: outbox. ARGV: hold id, version, ...
const ACK = `
for i = 1, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and cjson.decode(v).v == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
`

// A global index (agents, budgets, revocations) in its own slot: ZADD with a score from
// INCR (`seq`) or from the server's clock (`time`), kept when present. KEYS: index, counter.
// ARGV: 'seq' | 'time', member
const INDEX = `
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local score
if ARGV[1] == 'time' then
  local t = redis.call('TIME')
  score = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
else
  score = redis.call('INCR', KEYS[2])
end
return redis.call('ZADD', KEYS[1], score, ARGV[2])
`

const S = SCRIPTS
/** update's budget ids were checked by the client (each in its own slot). */
const CHECKED_BUDGETS = '\nlocal function budget(id) return { id = id } end\n'

export const CLUSTER_SCRIPTS = {
  killswitchCGetV1: { numberOfKeys: 8, lua: agentScript(LEDGER_LUA, S.killswitchGetV2.lua) },
  killswitchCRenewV1: { numberOfKeys: 8, lua: agentScript(LEDGER_LUA, S.killswitchRenewV2.lua) },
  killswitchCSettleV1: {
    numberOfKeys: 8,
    lua: agentScript(LEDGER_LEVELS_LUA, S.killswitchSettleV2.lua),
  },
  killswitchCReleaseV1: {
    numberOfKeys: 8,
    lua: agentScript(LEDGER_LEVELS_LUA, S.killswitchReleaseV2.lua),
  },
  killswitchCUpdateV1: {
    numberOfKeys: 8,
    lua: agentScript(LEDGER_LEVELS_LUA, S.killswitchUpdateV2.lua, CHECKED_BUDGETS),
  },
  killswitchCReserveV1: {
    numberOfKeys: 9,
    lua: agentScript(LEDGER_LEVELS_LUA, `${LEDGER_LEVELS_LUA}${RESERVE_BODY}`, ACTIVITY_LUA),
  },
  killswitchCConfirmV1: {
    numberOfKeys: 9,
    lua: agentScript(LEDGER_LEVELS_LUA, `${LEDGER_LEVELS_LUA}${CONFIRM_BODY}`, ACTIVITY_LUA),
  },
  killswitchCUndoV1: {
    numberOfKeys: 8,
    lua: agentScript(LEDGER_LEVELS_LUA, `${LEDGER_LEVELS_LUA}${UNDO_BODY}`),
  },
  killswitchCBudgetHoldV1: { numberOfKeys: 4, lua: BUDGET_HOLD },
  killswitchCBudgetSyncV1: { numberOfKeys: 3, lua: BUDGET_SYNC },
  killswitchCAckV1: { numberOfKeys: 1, lua: ACK },
  killswitchCIndexV1: { numberOfKeys: 2, lua: INDEX },
  // Single-node scripts that touch one slot as they are, given a key to be routed by.
  killswitchCCreateBudgetV1: { numberOfKeys: 1, lua: S.killswitchCreateBudgetV2.lua },
  killswitchCUpdateBudgetV1: { numberOfKeys: 1, lua: S.killswitchUpdateBudgetV2.lua },
  // Approvals live in their agent's slot (prefix: the agent's); the client finds the agent of
  // an approval id in `{ap:<id>}` and keeps the global order in `{idx}approvals`.
  killswitchCDecideApprovalV1: { numberOfKeys: 1, lua: APPROVALS.killswitchDecideApprovalV2.lua },
  killswitchCApprovalsV1: { numberOfKeys: 1, lua: APPROVALS.killswitchApprovalsV2.lua },
} as const

export type ClusterScriptName = keyof typeof CLUSTER_SCRIPTS

/** The cluster script that replaces a single-node one on the agent's slot. */
export const CLUSTER_AGENT_SCRIPT: Partial<Record<string, ClusterScriptName>> = {
  killswitchGetV2: 'killswitchCGetV1',
  killswitchRenewV2: 'killswitchCRenewV1',
  killswitchSettleV2: 'killswitchCSettleV1',
  killswitchReleaseV2: 'killswitchCReleaseV1',
  killswitchUpdateV2: 'killswitchCUpdateV1',
  killswitchReserveV2: 'killswitchCReserveV1',
}
