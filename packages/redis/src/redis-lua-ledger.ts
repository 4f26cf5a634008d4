// The ledger in Lua: the one port of core's ledger/ledger.ts (its storage, its checks, its
// audit entries), held to it by the differential test of the conformance suite. Every
// ledger script (redis-scripts.ts) starts with this chunk.
//
// Per agent (keys built the same way by redis-keys.ts and by `agent_keys` below):
// - `agent`     hash: the record; `heldMicros` and `unreconciledMicros` are counters kept in
//               step with the holds; `holdSeq` numbers holds in the order they were taken;
// - `hold`      hash: live hold id -> JSON {seq, amount, expires, updated, levels};
// - `holdexp`   sorted set: hold ids by expiry (ties in hold id order, as the reference
//               ledger's storages sweep them);
// - `holddone`  hash: finished hold id -> JSON {state, amount, expires, charged, updated,
//               levels}, kept for idempotency (a retried settle is a duplicate, a late settle
//               corrects a lapse);
// - `holdprune` sorted set: finished hold id by the time it may be forgotten; both keys also
//               expire as a whole when the agent has been idle longer than that;
// - `audit`     list of JSON entries, oldest first.
// Budgets and windows are in redis-lua-levels.ts.
//
// Discipline: validate every argument first, then write. A script never raises an error after
// a write (Redis would keep the writes): outcomes, refusals and bad input are replies.
//
// Numbers: ARGV are strings. Amounts and times are whole numbers far below 2^53, so Lua's
// doubles hold them exactly; they are written back with %.0f (never as "1e+15"), and inside
// JSON as strings (cjson would print numbers with 14 digits).

import { UNRECONCILED_RETENTION_MS } from '@killswitch/core'

/** The Lua chunk every ledger script starts with. ARGV[1..4]: clock, now, hold retention, audit policy. */
export const LEDGER_LUA = `
if redis.replicate_commands then redis.replicate_commands() end

local MAX_MICROS = 1000000000000000
-- MAX_TOTAL_MICROS of ledger-input.ts: running totals saturate here (never past 2^53).
local MAX_TOTAL = 8000000000000000
local MAX_TTL_MS = 604800000
local MAX_SAFE = 9007199254740991
local PRUNE_BATCH = 16

local function int(n) return string.format('%.0f', n) end
-- saturated() of ledger-input.ts: a running total after a change.
local function saturated(n) return math.min(MAX_TOTAL, n) end

-- A whole number written in digits, at most max; nil for anything else ("NaN", "Infinity",
-- "1e+21", "-100", "0.5", "").
local function whole(s, max)
  if type(s) ~= 'string' or #s == 0 or #s > 16 or not string.find(s, '^%d+$') then return nil end
  local n = tonumber(s)
  if n > max then return nil end
  return n
end

-- The checks of ledger-input.ts: the name of the first bad field, or nil.
local function bad_micros(field, s) if whole(s, MAX_MICROS) == nil then return field end end
local function bad_ttl(s, field)
  local n = whole(s, MAX_TTL_MS)
  if n == nil or n < 1 then return field or 'ttlMs' end
end
local function bad_time(s) if whole(s, MAX_SAFE) == nil then return 'now' end end
-- The client checks ids exactly (UTF-16 length); this bounds them in bytes.
local function bad_id(s) if type(s) ~= 'string' or #s == 0 or #s > 800 then return 'holdId' end end

local CLOCK, CALLER_NOW, RETENTION = ARGV[1], ARGV[2], tonumber(ARGV[3])
local UNRECONCILED_KEEP = ${UNRECONCILED_RETENTION_MS}
-- The audit policy, 'max,retention': the entries kept per agent when the user set such a
-- count, and how long entries are kept (ms of the store's clock); '' for no bound (kept for
-- good, the default).
local MAX_AUDIT, AUDIT_RETENTION = string.match(ARGV[4] or '', '^(%d*),(%d*)$')
MAX_AUDIT, AUDIT_RETENTION = tonumber(MAX_AUDIT or ''), tonumber(AUDIT_RETENTION or '')
local AUDIT_PRUNE_BATCH = 64

-- The store's clock: Redis's own (one clock for the fleet), or the caller's \`now\`.
local function clock()
  if CLOCK == 'server' then
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return tonumber(CALLER_NOW)
end

local K = {}
-- Where the scripts reach usage keys (windows): the prefix a script was given (budgets and
-- windows, redis-lua-levels.ts), else the agent's own (in a cluster, its slot's).
local PREFIX = nil
local function usage_key(key)
  return (PREFIX or string.match(K.agent, '^(.*)agent:[^:]*$')) .. 'usage:' .. key
end

-- Hooks: how a hold's windows change and how a finished hold is recorded. Every transition
-- goes through them; Redis Cluster replaces them (redis-scripts-cluster.ts: budget windows
-- live in other slots, reached through the agent's outbox), so no transition is written twice.
local hooks = {}
local function apply_levels(keys, spent, held) return hooks.apply_levels(keys, spent, held) end
-- \`kept\`: the window keys the record keeps, when not all of \`levels\` (settle() of ledger.ts
-- keeps them only where a later settle may raise the charge); \`levels\` are those it moved.
local function save_done(id, state, amount, expires, charged, now, levels, kept)
  return hooks.save_done(id, state, amount, expires, charged, now, levels, kept)
end

-- applyToLevels() of ledger.ts: a window's spent saturates (HINCRBY counts exactly, in 64
-- bits, so the total past the bound is brought back to it).
hooks.apply_levels = function(keys, spent, held)
  for _, key in ipairs(keys or {}) do
    if spent ~= 0 then
      local k = usage_key(key)
      if redis.call('HINCRBY', k, 'spentMicros', int(spent)) > MAX_TOTAL then
        redis.call('HSET', k, 'spentMicros', int(MAX_TOTAL))
      end
    end
    if held ~= 0 then redis.call('HINCRBY', usage_key(key), 'heldMicros', int(held)) end
  end
end

local function agent_keys(prefix, handle)
  return {
    agent = prefix .. 'agent:' .. handle,
    live = prefix .. 'hold:' .. handle,
    exp = prefix .. 'holdexp:' .. handle,
    done = prefix .. 'holddone:' .. handle,
    prune = prefix .. 'holdprune:' .. handle,
    audit = prefix .. 'audit:' .. handle,
  }
end
local function use_keys(agent, live, exp, done, prune, audit)
  K = { agent = agent, live = live, exp = exp, done = done, prune = prune, audit = audit }
end

-- The audit log -------------------------------------------------------------------------

-- Each entry gets the agent's next seq (the cursor of readAudit's pages), written last so
-- that it wins over a seq the caller's entry may carry (as { ...entry, seq } does).
local pushed = false
local function audit(json)
  local seq = redis.call('HINCRBY', K.agent, 'auditSeq', 1)
  if json == '{}' then json = '{"seq":' .. seq .. '}'
  else json = string.sub(json, 1, -2) .. ',"seq":' .. seq .. '}' end
  redis.call('RPUSH', K.audit, json)
  pushed = true
end
local function trim_audit()
  if pushed and MAX_AUDIT then redis.call('LTRIM', K.audit, -MAX_AUDIT, -1) end
  pushed = false
end

-- The audit retention: deletes at most a batch of the agent's oldest entries older than
-- \`now - AUDIT_RETENTION\`, stopping at the first newer one (never a newer entry, never the
-- whole log in one step). Replies how many it deleted.
local function prune_audit(now)
  if not AUDIT_RETENTION then return 0 end
  local before = now - AUDIT_RETENTION
  local head = redis.call('LINDEX', K.audit, 0)
  if not head or tonumber(cjson.decode(head).at) >= before then return 0 end
  local aged = 0
  for _, json in ipairs(redis.call('LRANGE', K.audit, 0, AUDIT_PRUNE_BATCH - 1)) do
    if tonumber(cjson.decode(json).at) >= before then break end
    aged = aged + 1
  end
  redis.call('LTRIM', K.audit, aged, -1)
  return aged
end

-- Dollars as JavaScript prints micros / 1e6: the exact decimal, which is also the shortest
-- that reads back as the same double (at most 15 significant digits up to MAX_MICROS).
local function dollars(micros)
  local s = int(micros)
  if #s < 7 then s = string.rep('0', 7 - #s) .. s end
  local units = string.sub(s, 1, -7)
  local cents = (string.gsub(string.sub(s, -6), '0+$', ''))
  if cents == '' then return units end
  return units .. '.' .. cents
end

-- new Date(ms).toISOString(), by arithmetic (days to civil date, H. Hinnant's algorithm).
local function iso(ms)
  local days = math.floor(ms / 86400000)
  local rem = ms - days * 86400000
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  local year
  if y > 9999 then year = '+' .. string.format('%06d', y)
  elseif y < 0 then year = '-' .. string.format('%06d', -y)
  else year = string.format('%04d', y) end
  return string.format('%s-%02d-%02dT%02d:%02d:%02d.%03dZ', year, m, d,
    math.floor(rem / 3600000), math.floor(rem % 3600000 / 60000),
    math.floor(rem % 60000 / 1000), rem % 1000)
end

-- lapsedEntry() of ledger.ts, field for field.
local function lapsed_entry(handle, hold, now)
  local amount = dollars(hold.amount)
  local label = type(hold.label) == 'string' and hold.label ~= '' and hold.label or nil
  local summary = 'hold of $' .. amount .. (label and (' for ' .. label) or '') .. ' lapsed at ' ..
    iso(hold.expires) ..
    ' with no settlement: charged in full as unreconciled spend until its settlement arrives'
  return '{"at":' .. int(now) .. ',"handle":' .. cjson.encode(handle) ..
    ',"type":"lapsed","summary":' .. cjson.encode(summary) ..
    ',"data":{"holdId":' .. cjson.encode(hold.id) .. ',"amount":' .. amount ..
    ',"expiredAt":' .. int(hold.expires) .. ',"unreconciled":' .. amount ..
    (label and (',"for":' .. cjson.encode(label)) or '') .. '}}'
end

local function json_strings(list)
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end

-- The caller's entry as ledger.ts completes it: data.outcome set (settle, release),
-- data.grants set when a reserve draws on grants past the cap, data.levels set when the hold
-- touched any window (withOutcome, withLevels). The client sends the entry cut where those
-- fields go (head, tail) with the caller's own values of them (JSON, or ''), which are kept
-- unless the ledger sets them.
local function audit_completed(a, outcome, levels, grants, replaces)
  if a.head == '' then return end
  local extra = {}
  if outcome then extra[#extra + 1] = '"outcome":"' .. outcome .. '"'
  elseif a.outcome ~= '' then extra[#extra + 1] = '"outcome":' .. a.outcome end
  if replaces then extra[#extra + 1] = '"replaces":' .. dollars(replaces) end
  if levels and #levels > 0 then extra[#extra + 1] = '"levels":' .. cjson.encode(levels)
  elseif a.levels ~= '' then extra[#extra + 1] = '"levels":' .. a.levels end
  if grants then extra[#extra + 1] = '"grants":' .. json_strings(grants)
  elseif a.grants ~= '' then extra[#extra + 1] = '"grants":' .. a.grants end
  local head = a.head
  if #extra == 0 and string.sub(head, -1) == ',' then head = string.sub(head, 1, -2) end
  audit(head .. table.concat(extra, ',') .. a.tail)
end

-- The five ARGV of a caller's entry, from position i.
local function entry_args(i)
  return { head = ARGV[i], tail = ARGV[i + 1], outcome = ARGV[i + 2], levels = ARGV[i + 3],
    grants = ARGV[i + 4] }
end

-- Buffered entries of this agent (appendAudit) ride along from ARGV[first] on, in order.
-- Entries of an agent that does not exist are dropped, as the reference drops them.
-- Each leads with its buffer id (redis-audit-buffer.ts), taken out here. An id this agent
-- wrote already is skipped: the client sends the entries of a write again when its reply
-- timed out, and Redis may have run that write (red team rt41b). The agent's written ids are
-- a sorted set by seq in its slot (auditids, redis-keys.ts): its last AUDIT_IDS_KEPT (twice
-- what a ledger script carries; a flush of more entries of one agent, sent again, may
-- repeat its first ones), for AUDIT_IDS_TTL_MS after the last one.
local AUDIT_IDS_KEPT = 1000
local AUDIT_IDS_TTL_MS = 86400000
local function push_buffered(first)
  if first > #ARGV or redis.call('EXISTS', K.agent) == 0 then return end
  local ids = (string.gsub(K.audit, 'audit:([^:]*)$', 'auditids:%1'))
  local added = false
  for i = first, #ARGV do
    local id, rest = string.match(ARGV[i], '^{"bufferedId":"([%w_.%-]+)",?(.*)$')
    if not id then
      audit(ARGV[i])
    elseif not redis.call('ZSCORE', ids, id) then
      audit('{' .. rest)
      redis.call('ZADD', ids, redis.call('HGET', K.agent, 'auditSeq'), id)
      added = true
    end
  end
  if added then
    redis.call('ZREMRANGEBYRANK', ids, 0, -AUDIT_IDS_KEPT - 1)
    redis.call('PEXPIRE', ids, AUDIT_IDS_TTL_MS)
  end
end

-- Agents and holds ----------------------------------------------------------------------

local function record() return redis.call('HGETALL', K.agent) end

local function money()
  local v = redis.call('HMGET', K.agent, 'status', 'capMicros', 'spentMicros', 'heldMicros',
    'unreconciledMicros', 'grants')
  return { status = v[1], cap = tonumber(v[2]), spent = tonumber(v[3]),
    held = tonumber(v[4] or '0'), unrec = tonumber(v[5] or '0'),
    grants = cjson.decode(v[6] or '[]') }
end

-- Grants from approvals, as JSON with whole numbers (cjson would print 14 digits).
local function grants_json(list)
  local parts = {}
  for _, g in ipairs(list) do
    parts[#parts + 1] = '{"approvalId":' .. cjson.encode(g.approvalId) .. ',"amountMicros":' ..
      int(g.amountMicros) .. ',"expiresAt":' .. int(g.expiresAt) .. '}'
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

-- grantExpiredEntry() of approvals.ts.
local function grant_expired_entry(handle, grant, now)
  local amount = dollars(grant.amountMicros)
  return '{"at":' .. int(now) .. ',"handle":' .. cjson.encode(handle) ..
    ',"type":"approval","summary":' ..
    cjson.encode('grant of $' .. amount .. ' from approval ' .. grant.approvalId .. ' expired') ..
    ',"data":{"approvalId":' .. cjson.encode(grant.approvalId) ..
    ',"event":"grant_expired","amount":' .. amount .. '}}'
end

-- The approvals whose live grants a hold draws on, once the agent is past its own cap (nil
-- when it is not): for the reserve's audit entry.
local function drawn_grants(a, now)
  if a.spent + a.held - a.cap <= 0 then return nil end
  local grants = {}
  for _, g in ipairs(a.grants) do
    if tonumber(g.expiresAt) > now then grants[#grants + 1] = g.approvalId end
  end
  return grants
end

-- The finished holds' keys expire once the agent is idle past their retention (an agent
-- with an unreconciled charge keeps them: save_money).
local function expire_done()
  local idle = int(math.min(RETENTION * 8, 3153600000000))
  redis.call('PEXPIRE', K.done, idle)
  redis.call('PEXPIRE', K.prune, idle)
end

-- An unreconciled charge keeps the finished holds' keys (no expiry) until it is corrected or
-- written off by prune() at one of the agent's operations: an idle agent's key expiry would
-- forget its holds with their charges still unreconciled (red team rt32).
local function save_money(a)
  redis.call('HSET', K.agent, 'spentMicros', int(a.spent), 'heldMicros', int(a.held),
    'unreconciledMicros', int(a.unrec))
  if a.unrec > 0 then
    redis.call('PERSIST', K.done)
    redis.call('PERSIST', K.prune)
  end
end


-- Expiry ties lapse in hold id order (a sorted set orders equal scores by member), as the
-- reference ledger's storages do.
local function member(seq, id)
  return id
end

local function live_hold(id)
  local v = redis.call('HGET', K.live, id)
  if not v then return nil end
  local f = cjson.decode(v)
  return { id = id, state = 'held', seq = tonumber(f.seq), amount = tonumber(f.amount),
    expires = tonumber(f.expires), charged = 0, updated = tonumber(f.updated),
    levels = f.levels or {}, label = f.label }
end

local function done_hold(id)
  local v = redis.call('HGET', K.done, id)
  if not v then return nil end
  local f = cjson.decode(v)
  return { id = id, state = f.state, amount = tonumber(f.amount), expires = tonumber(f.expires),
    charged = tonumber(f.charged), updated = tonumber(f.updated), levels = f.levels or {} }
end

local function find_hold(id) return live_hold(id) or done_hold(id) end

local function save_live(h)
  -- An empty label is none (cjson leaves a nil field out).
  local label = h.label ~= '' and h.label or nil
  redis.call('HSET', K.live, h.id, cjson.encode({ seq = int(h.seq), amount = int(h.amount),
    expires = int(h.expires), updated = int(h.updated), levels = h.levels, label = label }))
  redis.call('ZADD', K.exp, int(h.expires), member(h.seq, h.id))
end

local function drop_live(h)
  redis.call('HDEL', K.live, h.id)
  redis.call('ZREM', K.exp, member(h.seq, h.id))
end

-- A finished hold, remembered until it may be forgotten: settled and released ones after the
-- retention, lapsed ones (and settles at a bound) UNRECONCILED_RETENTION_MS of ledger.ts or
-- the retention if longer (a late settle or a reconcile may still correct their charge).
hooks.save_done = function(id, state, amount, expires, charged, now, levels, kept)
  redis.call('HSET', K.done, id, cjson.encode({ state = state, amount = int(amount),
    expires = int(expires), charged = int(charged), updated = int(now), levels = kept or levels }))
  local keep = state == 'lapsed' and math.max(RETENTION, UNRECONCILED_KEEP) or RETENTION
  redis.call('ZADD', K.prune, int(now + keep), id)
  -- An agent idle past every entry's retention takes its idempotency state with it; not while
  -- it has an unreconciled charge (save_money keeps the keys): that waits for its write-off.
  if state ~= 'lapsed' then expire_done() end
end

-- A hold that provably spent nothing ends: a live one gives its amount back, a lapsed one its
-- charge (its owner came back and knows nothing was sent). The caller records how it ended.
local function give_back(a, h)
  if h.state == 'held' then
    a.held = a.held - h.amount
    apply_levels(h.levels, 0, -h.amount)
    drop_live(h)
    return 'released'
  end
  a.spent = a.spent - h.charged
  a.unrec = a.unrec - h.charged
  apply_levels(h.levels, -h.charged, 0)
  return 'lapse_withdrawn'
end

-- writtenOffEntry() of ledger.ts, field for field.
local function written_off_entry(handle, id, d, now)
  local charged = dollars(tonumber(d.charged))
  local days = math.floor((now - tonumber(d.updated)) / 86400000)
  local summary = 'unreconciled charge of $' .. charged .. ' for hold ' .. id ..
    ' written off after ' .. days ..
    ' days: no settlement corrected it, and the hold is forgotten; it stays spent, final'
  return '{"at":' .. int(now) .. ',"handle":' .. cjson.encode(handle) ..
    ',"type":"settled","summary":' .. cjson.encode(summary) ..
    ',"data":{"holdId":' .. cjson.encode(id) .. ',"cost":' .. charged ..
    ',"outcome":"written_off","replaces":' .. charged .. '}}'
end

-- Forgets a small batch of finished holds past their retention (strictly: as the reference
-- stores): never a long pause. A lapsed one is written off as it is forgotten (writeOff() of
-- ledger.ts: its charge stays spent, final, and leaves unreconciled), by a reserve only
-- (write_off), as the reference stores do: a settle or a reconcile of it just past its
-- retention still corrects it (red team rt36: on Redis alone it was written off first, and
-- the settle charged on top). A settle or release forgets only the holds that ended otherwise.
local function prune(a, now, write_off)
  local old = redis.call('ZRANGEBYSCORE', K.prune, '-inf', '(' .. int(now), 'LIMIT', 0,
    PRUNE_BATCH)
  if #old == 0 then return end
  local handle
  local forget = {}
  local entries = redis.call('HMGET', K.done, unpack(old))
  for i, id in ipairs(old) do
    local d = entries[i] and cjson.decode(entries[i])
    if d and d.state == 'lapsed' then
      if write_off then
        handle = handle or redis.call('HGET', K.agent, 'handle')
        a.unrec = a.unrec - tonumber(d.charged)
        audit(written_off_entry(handle, id, d, now))
        forget[#forget + 1] = id
      end
    else
      forget[#forget + 1] = id
    end
  end
  if #forget == 0 then return end
  redis.call('HDEL', K.done, unpack(forget))
  redis.call('ZREM', K.prune, unpack(forget))
  if handle then
    save_money(a)
    if a.unrec <= 0 then expire_done() end
  end
end

-- sweep() of ledger.ts: charges every live hold whose lease ran out by now, in full, as
-- unreconciled spend, and audits each lapse.
local function sweep(a, now)
  local handle = redis.call('HGET', K.agent, 'handle')
  -- Grants past their expiry end first, each audited once.
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
      a.spent = saturated(a.spent + h.amount)
      a.unrec = a.unrec + h.amount
      save_done(h.id, 'lapsed', h.amount, h.expires, h.amount, now, h.levels)
      -- The windows it was held in: held becomes spent there too.
      if h.amount > 0 then apply_levels(h.levels, h.amount, -h.amount) end
      audit(lapsed_entry(handle, h, now))
    end
  end
  save_money(a)
  return a
end
`
