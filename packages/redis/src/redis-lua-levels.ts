// Budgets and their windows in Lua: the port of core's ledger/levels.ts and of the window
// bookkeeping of ledger/ledger.ts (applyToLevels, checkLevels). Appended to the ledger chunk
// (redis-lua-ledger.ts) by the scripts that need it.
//
// Keys (under PREFIX, built here because budgets are found while the script runs; usage_key
// and apply_levels are the ledger chunk's, redis-lua-ledger.ts):
// - `budget:<id>`  hash: id, limits (JSON as the client wrote it), timeZone, parentId,
//                  createdAt, updatedAt; `budgets` sorted set: ids in creation order;
// - `usage:<window key>` hash: spentMicros, heldMicros of one window (ledger/levels.ts names
//                  them `agent:<handle>/<per>@<start>` and `budget:<id>/<per>@<start>`).
//
// Calendar windows need time zone data, which Lua does not have: the client sends each
// zone's current windows ([start, end) for every `per`, computed by core's windows.ts), and
// a script that finds one missing or stale for its clock asks for it, before writing
// anything ({'zones', [zone...], now}); the client computes them for that time and retries.

export const LEVELS_LUA = `
local ZONES = {}
local MISSING_ZONES = {}
local MAX_RUN_DEPTH = 64

local function budget_key(id) return PREFIX .. 'budget:' .. id end

local function budget(id)
  local v = redis.call('HMGET', budget_key(id), 'id', 'limits', 'timeZone', 'parentId')
  if not v[1] then return nil end
  return { id = v[1], limits = cjson.decode(v[2]), tz = v[3] or nil, parent = v[4] or nil,
    raw = v[2] }
end

-- The window of \`per\` containing now: start and end (nil end for lifetime), or nil when the
-- client did not send that zone's windows for this time (noted in MISSING_ZONES).
local function window(per, now, tz)
  if per == 'lifetime' then return 0, nil end
  local zone = tz or ''
  local w = ZONES[zone] and ZONES[zone][per]
  if w and w[1] <= now and now < w[2] then return w[1], w[2] end
  MISSING_ZONES[zone] = true
  return nil, nil
end

local function levels_of(scope, id, limits, now, tz, out)
  for _, limit in ipairs(limits) do
    local start, stop = window(limit.per, now, tz)
    out[#out + 1] = {
      key = scope .. ':' .. id .. '/' .. limit.per .. '@' .. int(start or 0),
      limit = tonumber(limit.amountMicros),
      refusal = { level = scope, budgetId = scope == 'budget' and id or nil, per = limit.per,
        resetsAt = stop },
    }
  end
end

-- collectLevels() of levels.ts: the agent's windows, then each budget (and its parents) in
-- order; a budget that does not exist is a level with limit 0, but for a run's (no level).
local function collect_levels(handle, agent_limits, budget_ids, pending, now)
  local levels = {}
  levels_of('agent', handle, agent_limits, now, nil, levels)
  local seen = {}
  local function visit(id, depth)
    if seen[id] then return end
    seen[id] = true
    local record
    if pending and id == pending.id then record = pending else record = budget(id) end
    if not record and depth <= MAX_RUN_DEPTH and string.sub(id, 1, 4) == 'run:' then return end
    if not record or depth > MAX_RUN_DEPTH then
      levels[#levels + 1] = { key = 'budget:' .. id .. '/lifetime@0', limit = 0,
        refusal = { level = 'budget', budgetId = id, per = 'lifetime' } }
      return
    end
    levels_of('budget', id, record.limits, now, record.tz, levels)
    if record.parent then visit(record.parent, depth + 1) end
  end
  for _, id in ipairs(budget_ids) do visit(tostring(id), 0) end
  return levels
end

-- A run's budget as newRunBudget() makes it on first use: a lifetime limit of its cap (ARGV
-- text, '' for none), drawing on its parent run's (id, '' for none).
local function new_run(id, cap, parent)
  return { id = id, tz = nil,
    limits = cap ~= '' and { { amountMicros = tonumber(cap), per = 'lifetime' } } or {},
    parent = parent ~= '' and ('run:' .. parent) or nil }
end

-- Saves a run's budget made by new_run, once its first hold is granted.
local function save_run(run, cap, now)
  local limits = cap ~= '' and ('[{"amountMicros":' .. cap .. ',"per":"lifetime"}]') or '[]'
  redis.call('HSET', budget_key(run.id), 'id', run.id, 'limits', limits, 'createdAt', int(now),
    'updatedAt', int(now))
  if run.parent then redis.call('HSET', budget_key(run.id), 'parentId', run.parent) end
end

-- runBudgetFor() of ledger.ts: the run's budget a reserve naming it holds against (cap: ARGV
-- text, '' for none; parent likewise), and how a granted hold saves it: 'new' (save_run),
-- 'cap' (save_run_cap: a run made without a cap takes this call's) or nil. A call is never
-- admitted past its own cap: the lifetime limit is the lower of the stored cap and cap. A
-- cap that is not a valid amount changes nothing here: the reserve refuses it.
local function run_for(id, cap, parent)
  local record = budget(id)
  if not record then return new_run(id, cap, parent), 'new' end
  if cap == '' or bad_micros('run.capMicros', cap) then return record, nil end
  local n = tonumber(cap)
  local limits = {}
  for i, limit in ipairs(record.limits) do limits[i] = limit end
  for i, limit in ipairs(limits) do
    if limit.per == 'lifetime' then
      if n >= tonumber(limit.amountMicros) then return record, nil end
      limits[i] = { amountMicros = n, per = 'lifetime' }
      return { id = record.id, limits = limits, tz = record.tz, parent = record.parent }, nil
    end
  end
  limits[#limits + 1] = { amountMicros = n, per = 'lifetime' }
  return { id = record.id, limits = limits, tz = record.tz, parent = record.parent,
    raw = record.raw }, 'cap'
end

-- Saves a run's first cap (run_for said 'cap'): its limits as stored, then the lifetime one.
local function save_run_cap(run, cap, now)
  local add = '{"amountMicros":' .. cap .. ',"per":"lifetime"}'
  local before = string.match(run.raw, '^%s*%[(.-)%]%s*$') or ''
  local limits = string.find(before, '%S') and ('[' .. before .. ',' .. add .. ']')
    or ('[' .. add .. ']')
  redis.call('HSET', budget_key(run.id), 'limits', limits, 'updatedAt', int(now))
end

local function missing_zones()
  local zones = {}
  for zone in pairs(MISSING_ZONES) do zones[#zones + 1] = zone end
  return zones
end

local function usage(key)
  local v = redis.call('HMGET', usage_key(key), 'spentMicros', 'heldMicros')
  return { spent = tonumber(v[1] or '0'), held = tonumber(v[2] or '0') }
end

-- A window's usage is kept until no hold taken in it can still end: its end, plus the
-- longest lease, plus the time a lapsed hold may still be corrected.
local function keep_windows(levels, now)
  for _, level in ipairs(levels) do
    local stop = level.refusal.resetsAt
    if stop then
      local key = usage_key(level.key)
      local keep = math.min(stop - now + MAX_TTL_MS + RETENTION * 8, 3153600000000)
      local ttl = redis.call('PTTL', key)
      if ttl == -1 or (ttl >= 0 and ttl < keep) then redis.call('PEXPIRE', key, int(keep)) end
    end
  end
end

-- The windows' half of checkLevels(): the first of \`levels\` that cannot hold amount, as a flat
-- refusal {level, budgetId, per, resetsAt, limit, spent, held} ('' for absent), unless one
-- was found already, and the least room of \`available\` (nil for none) and every window's.
local function check_windows(levels, amount, refusal, available)
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
  return refusal, available
end

-- checkLevels() of ledger.ts: the first level that cannot hold amount (the agent's cap first),
-- and the most any reserve could hold now.
local function check_levels(a, levels, amount, now)
  -- Live grants from approvals raise the agent's own cap (never a budget's), at most to
  -- MAX_TOTAL: effectiveCap().
  local cap = a.cap
  for _, g in ipairs(a.grants) do
    if tonumber(g.expiresAt) > now then cap = saturated(cap + tonumber(g.amountMicros)) end
  end
  local available = cap - a.spent - a.held
  local refusal = nil
  if available <= 0 or amount > available then
    refusal = { 'agent', '', '', '', int(cap), int(a.spent), int(a.held) }
  end
  refusal, available = check_windows(levels, amount, refusal, available)
  return refusal, math.max(0, available)
end

-- A limits list from the client (JSON): the field of the first bad amount, or nil.
local function bad_limits(field, limits)
  for i, limit in ipairs(limits) do
    local n = type(limit) == 'table' and limit.amountMicros
    if type(n) ~= 'number' or n ~= n or n < 0 or n > MAX_MICROS or math.floor(n) ~= n then
      return field .. '.' .. (i - 1) .. '.amountMicros'
    end
  end
end

local function save_budget_index(id)
  if redis.call('ZSCORE', PREFIX .. 'budgets', id) then return end
  redis.call('ZADD', PREFIX .. 'budgets', redis.call('INCR', PREFIX .. 'budgetseq'), id)
end
`
