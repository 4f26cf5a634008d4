// The reserve in Lua, written once for one Redis and for Redis Cluster: the port of core's
// ledger.ts reserve (with the call's runaway activity, redis-lua-activity.ts). What differs on
// a cluster, where budgets live in other slots and are held after this step, is four hooks:
// RESERVE_HOOKS below are one Redis's; redis-scripts-cluster.ts replaces them.
//
// KEYS: the six ledger keys, the activity window and its state (a cluster
// appends pending and outbox).
// ARGV: header, holdId, amountMicros, ttlMs, entry (head, tail, outcome, levels, grants),
// prefix, request budgets (JSON), run id, run id valid ('1', '0'; '' when no run), run cap or
// '', run parent or '', parent valid ('1'), zones (JSON), label (what the hold is for, or
// ''), activity, ...buffered.
// Replies {'ok', record, expiresAt, window keys, activity window (what the caller lacks)},
// {'cap', record, refusal, available, budget ids}, {'revoked', record}, {'ended', state},
// {'not_found'}, {'zones', [zone...], now}, {'invalid' | 'invalid_late', field}.

/** One Redis's reserve hooks: every level is in this script. Needs the ledger and levels chunks. */
export const RESERVE_HOOKS = `
-- The levels to check and hold in this script, and the run's budget as this call holds against
-- it (run_for: made on first use, as newRunBudget does, capped at this call's own cap; saved
-- only if the hold is granted, and only when new or taking its first cap).
hooks.reserve_levels = function(handle, limits, budget_ids, run_id, now)
  local pending, save = nil, nil
  if run_id then pending, save = run_for(run_id, ARGV[17], ARGV[18]) end
  if pending then pending.save = save end
  return collect_levels(handle, limits, budget_ids, pending, now), pending
end

hooks.save_run = function(pending, now)
  if pending.save == 'new' then
    save_run(pending, ARGV[17], now)
    save_budget_index(pending.id)
  elseif pending.save == 'cap' then
    save_run_cap(pending, ARGV[17], now)
  end
end

-- A hold granted here that still has levels to take elsewhere: none on one Redis.
hooks.held_again = function() return nil end
hooks.hold_elsewhere = function() return nil end
`

/** The reserve's body, after the ledger, levels and activity chunks and the hooks. */
export const RESERVE_BODY = `
use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local id = ARGV[5]
local bad = bad_id(id) or bad_micros('amountMicros', ARGV[6]) or bad_ttl(ARGV[7]) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
local amount, ttl, now = tonumber(ARGV[6]), tonumber(ARGV[7]), clock()
PREFIX, ZONES = ARGV[13], cjson.decode(ARGV[20])
local act, buffered = activity_args(22)
-- The call's activity is written only for a granted hold (a refused call is not activity).
local function activity() return act and record_activity(KEYS[7], KEYS[8], act) end
if redis.call('EXISTS', K.agent) == 0 then
  push_buffered(buffered)
  trim_audit()
  return {'not_found'}
end
-- The levels first, reading only: a zone's windows may be missing (then nothing is written).
local agent_levels = redis.call('HMGET', K.agent, 'limits', 'budgets')
local budget_ids = cjson.decode(agent_levels[2] or '[]')
for _, extra in ipairs(cjson.decode(ARGV[14])) do budget_ids[#budget_ids + 1] = extra end
local run_id = ARGV[16] ~= '' and ('run:' .. ARGV[15]) or nil
if run_id then budget_ids[#budget_ids + 1] = run_id end
local handle = redis.call('HGET', K.agent, 'handle')
local levels, pending = hooks.reserve_levels(handle, cjson.decode(agent_levels[1] or '[]'),
  budget_ids, run_id, now)
local zones = missing_zones()
if #zones > 0 then return {'zones', zones, int(now)} end
push_buffered(buffered)
local a = sweep(money(), now)
prune(a, now, true)
prune_audit(now)
if a.status == 'revoked' then trim_audit() return {'revoked', record()} end
local existing = find_hold(id)
if existing then
  trim_audit()
  -- A retried reserve with the same id must not hold twice; an ended id is never reused.
  if existing.state == 'held' then
    return hooks.held_again(existing, a, levels, budget_ids, now) or
      {'ok', record(), int(existing.expires), existing.levels, activity()}
  end
  return {'ended', existing.state}
end
if run_id then
  local bad_run = (ARGV[16] ~= '1' and 'run.id') or
    (ARGV[17] ~= '' and bad_micros('run.capMicros', ARGV[17])) or
    (ARGV[18] ~= '' and ARGV[19] ~= '1' and 'run.parentId') or nil
  -- Refused after the sweep was written, as ledger.ts throws it: 'late', not 'invalid'.
  if bad_run then trim_audit() return {'invalid_late', bad_run} end
end
local refusal, available = check_levels(a, levels, amount, now)
if refusal then trim_audit() return {'cap', record(), refusal, int(available), budget_ids} end
if pending then hooks.save_run(pending, now) end
local keys = {}
for i, level in ipairs(levels) do keys[i] = level.key end
local expires = now + ttl
local seq = redis.call('HINCRBY', K.agent, 'holdSeq', 1)
save_live({ id = id, seq = seq, amount = amount, expires = expires, updated = now, levels = keys,
  label = ARGV[21] })
apply_levels(keys, 0, amount)
keep_windows(levels, now)
a.held = a.held + amount
save_money(a)
local elsewhere = hooks.hold_elsewhere(id, budget_ids, expires, keys, available)
if elsewhere then trim_audit() return elsewhere end
-- Past the cap itself, this hold draws on grants: say so, with the approvals behind them.
audit_completed(entry_args(8), nil, keys, drawn_grants(a, now))
trim_audit()
return {'ok', record(), int(expires), keys, activity()}
`
