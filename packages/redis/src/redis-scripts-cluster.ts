// The Lua scripts of Redis Cluster mode. A cluster runs a script on one node, over keys of one
// hash slot, so a reservation whose levels sit on different slots is held level by level
// (redis-cluster-ledger.ts and redis-cluster-routing.ts drive it):
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
// The scripts of the agent's slot are the single-node scripts (redis-scripts.ts), the same
// bodies, with the ledger's hooks replaced (redis-lua-ledger.ts, redis-lua-reserve.ts):
// apply_levels skips budget windows (they live in other slots), save_done writes the outbox,
// and the reserve leaves budgets to the later steps. KEYS: the script's own, then `pending`
// (hash: hold id -> version, while its budgets are being held) and `outbox`.

import { ACTIVITY_LUA } from './redis-lua-activity.js'
import { LEDGER_LUA } from './redis-lua-ledger.js'
import { AGENT_SCRIPTS, LEDGER_LEVELS_LUA, SCRIPTS, type ScriptParts } from './redis-scripts.js'
import { approvalScripts } from './redis-scripts-approvals.js'

const APPROVALS = approvalScripts(LEDGER_LUA)

// The ledger's hooks on the agent's slot. PENDING and OUTBOX are the last two keys.
const CLUSTER_HOOKS = `
local PENDING, OUTBOX = KEYS[#KEYS - 1], KEYS[#KEYS]

-- Budget windows live in their budgets' slots: only the agent's own are applied here.
local function scoped(keys, scope)
  local out = {}
  for _, key in ipairs(keys or {}) do
    if string.sub(key, 1, #scope + 1) == scope .. ':' then out[#out + 1] = key end
  end
  return out
end
local base_apply_levels = hooks.apply_levels
hooks.apply_levels = function(keys, spent, held)
  base_apply_levels(scoped(keys, 'agent'), spent, held)
end

-- The budget share of a hold is now (held, charged): queued for the budget slots.
local function outbox_put(id, held, charged, keys)
  local budget_keys = scoped(keys, 'budget')
  if #budget_keys == 0 then return end
  local version = redis.call('HINCRBY', K.agent, 'syncSeq', 1)
  redis.call('HSET', OUTBOX, id, cjson.encode({ v = int(version), held = int(held),
    charged = int(charged), levels = budget_keys }))
end

local base_save_done = hooks.save_done
hooks.save_done = function(id, state, amount, expires, charged, now, levels, kept)
  base_save_done(id, state, amount, expires, charged, now, levels, kept)
  redis.call('HDEL', PENDING, id)
  outbox_put(id, 0, charged, levels)
end
`

// Step 1 of a reserve (the reserve's hooks): the cap and the agent's windows here; budgets,
// the run's included, are held on their own slots after it (the run's slot makes a new run's
// budget), so a hold with budgets is left pending and the reply lists them:
// {'partial', record, expiresAt, agent window keys, budget ids, available, version}.
const RESERVE_HOOKS = `
hooks.reserve_levels = function(handle, limits, budget_ids, run_id, now)
  return collect_levels(handle, limits, {}, nil, now), run_id and { id = run_id } or nil
end
hooks.save_run = function() end
hooks.held_again = function(existing, a, levels, budget_ids, now)
  local version = redis.call('HGET', PENDING, existing.id)
  if not version then return nil end
  local _, available = check_levels(a, levels, 0, now)
  return {'partial', record(), int(existing.expires), existing.levels, budget_ids,
    int(available + existing.amount), version}
end
hooks.hold_elsewhere = function(id, budget_ids, expires, keys, available)
  if #budget_ids == 0 then return nil end
  local version = redis.call('HINCRBY', K.agent, 'syncSeq', 1)
  redis.call('HSET', PENDING, id, version)
  return {'partial', record(), int(expires), keys, budget_ids, int(available), int(version)}
end
`

/** A script on the agent's slot: its body run with the cluster's hooks, its outbox replied. */
function agentScript({ chunk, body }: ScriptParts, hooks = ''): string {
  return `${chunk}${CLUSTER_HOOKS}${hooks}
local function body()
${body}
end
local reply = body()
return {reply, redis.call('HGETALL', OUTBOX)}
`
}

// Every budget held: the hold lists its windows and is audited, the call's activity written.
// KEYS[7], KEYS[8]: the activity window, its state. ARGV: header, holdId, budget window keys (JSON), entry (head,
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
  -- It ended while its budgets were being held: they learn its end like any other. Its own
  -- time kept (a lapse's 35 days do not start again), and its keys kept under a charge.
  save_done(h.id, h.state, h.amount, h.expires, h.charged, h.updated or now, all)
  save_money(a)
end
audit_completed(entry_args(7), nil, all, drawn_grants(a, now))
trim_audit()
return {'ok', record(), int(h.expires), all,
  act and record_activity(KEYS[7], KEYS[8], act)}
`

// A budget refused: the agent gives back its pending hold as if it had never been taken, and
// the budgets held so far are told to give back theirs. ARGV: header, holdId, budget keys (JSON)
const UNDO_BODY = `
use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local id = ARGV[5]
local a = money()
local h = find_hold(id)
if h and (h.state == 'held' or h.state == 'lapsed') then
  if give_back(a, h) == 'lapse_withdrawn' then
    redis.call('HDEL', K.done, id)
    redis.call('ZREM', K.prune, id)
  end
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
// or '', run to save ('new' | 'cap' | '': RUN_SAVE)}, {'cap', refusal, room, parent}, or
// {'zones', [zone...], now}.
const BUDGET_HOLD = `${LEDGER_LEVELS_LUA}${BUDGET_SWEEP_LUA}
PREFIX, ZONES = ARGV[5], cjson.decode(ARGV[10])
local bid, hid, amount, version = ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local now = clock()
if ARGV[14] ~= '1' then budget_sweep(KEYS[2], KEYS[4], now) end
local record, save
-- The call's run: as run_for() holds it (capped at this call's own cap). New, or taking its
-- first cap, it is saved by RUN_SAVE once every level is held (a parent run may refuse).
if ARGV[13] == '1' then record, save = run_for(bid, ARGV[11], ARGV[12]) else record = budget(bid) end
-- A parent run with no budget yet limits nothing (collectLevels): held nowhere, not saved.
if not record and string.sub(bid, 1, 4) == 'run:' then record = { id = bid, limits = {} } end
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
  local _, least = check_windows(levels, 0, nil, nil)
  return {'peek', record.parent or '', least and int(least) or ''}
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
local refusal, available = check_windows(levels, amount, nil, nil)
if refusal then return {'cap', refusal, int(available), parent} end
local keys = {}
for i, level in ipairs(levels) do keys[i] = level.key end
apply_levels(keys, 0, amount)
keep_windows(levels, now)
redis.call('HSET', KEYS[2], hid, cjson.encode({ v = int(version), held = int(amount),
  charged = '0', levels = keys }))
redis.call('ZADD', KEYS[3], int(now + RETENTION * 8), hid)
if amount > 0 then redis.call('ZADD', KEYS[4], int(now + tonumber(ARGV[15]) + MAX_TTL_MS), hid) end
return {'ok', keys, parent, available and int(math.max(0, available)) or '', save or ''}
`

// The call's run's budget saved once every level of its reserve is held (BUDGET_HOLD replied
// it is new or takes its first cap): as run_for() finds it now, so a run another process
// saved meanwhile keeps its first cap. KEYS: budget record. ARGV: header, slot prefix, run's
// budget id, run cap or '', run parent or ''. Replies 'new', 'cap' or '' (nothing saved).
const RUN_SAVE = `${LEDGER_LEVELS_LUA}
PREFIX = ARGV[5]
local now = clock()
local record, save = run_for(ARGV[6], ARGV[7], ARGV[8])
if save == 'new' then save_run(record, ARGV[7], now) end
if save == 'cap' then save_run_cap(record, ARGV[7], now) end
return save or ''
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
const A = AGENT_SCRIPTS
/** update's budget ids were checked by the client (each in its own slot). */
const CHECKED_BUDGETS = '\nlocal function budget(id) return { id = id } end\n'
/** The chunk of the cluster's own agent-slot steps. */
const STEP_CHUNK = `${LEDGER_LEVELS_LUA}${ACTIVITY_LUA}`

export const CLUSTER_SCRIPTS = {
  killswitchCGetV1: { numberOfKeys: 8, lua: agentScript(A.killswitchGetV2) },
  killswitchCRenewV1: { numberOfKeys: 8, lua: agentScript(A.killswitchRenewV2) },
  killswitchCSettleV1: { numberOfKeys: 8, lua: agentScript(A.killswitchSettleV2) },
  killswitchCReleaseV1: { numberOfKeys: 8, lua: agentScript(A.killswitchReleaseV2) },
  killswitchCUpdateV1: {
    numberOfKeys: 8,
    lua: agentScript(A.killswitchUpdateV2, CHECKED_BUDGETS),
  },
  killswitchCReserveV1: {
    numberOfKeys: 10,
    lua: agentScript(A.killswitchReserveV2, RESERVE_HOOKS),
  },
  killswitchCConfirmV1: {
    numberOfKeys: 10,
    lua: agentScript({ chunk: STEP_CHUNK, body: CONFIRM_BODY }),
  },
  killswitchCUndoV1: {
    numberOfKeys: 8,
    lua: agentScript({ chunk: STEP_CHUNK, body: UNDO_BODY }),
  },
  killswitchCBudgetHoldV1: { numberOfKeys: 4, lua: BUDGET_HOLD },
  killswitchCRunSaveV1: { numberOfKeys: 1, lua: RUN_SAVE },
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
