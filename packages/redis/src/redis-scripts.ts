// The Lua scripts of the Redis store. Redis runs a script as one atomic step (no other
// command runs in between), so every ledger operation below is checked and written in one
// place, on the server: there is no read-modify-write from the client that two processes
// could interleave. They are registered with ioredis `defineCommand`, which sends EVALSHA and
// falls back to EVAL when the server does not have the script cached (after a restart).
//
// Per agent: `agent` (hash: the record, `heldMicros` kept in step with the holds), `holds`
// (sorted set: hold id -> expiry), `holdamt` (hash: hold id -> amount), `done` (hash: hold id
// -> settled | released | expired, for idempotency) with `donetime` (sorted set: hold id ->
// when, to forget them after the retention), `audit` (list of JSON entries).
//
// Numbers: ARGV are strings from the client and are passed on as they are. A number computed
// in Lua is a double, which redis.call would format as "1e+15": amounts are only ever compared
// in Lua, and written with HINCRBY from their original strings.

/** Helpers shared by the ledger scripts (KEYS[1..6] = agent, holds, holdamt, done, donetime, audit). */
const COMMON = `
local agent, holds, holdamt, done, donetime, audit = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local function finish(id, how, now)
  redis.call('HSET', done, id, how)
  redis.call('ZADD', donetime, now, id)
end

local function drop_hold(id, amount)
  redis.call('ZREM', holds, id)
  redis.call('HDEL', holdamt, id)
  if amount ~= '0' then redis.call('HINCRBY', agent, 'heldMicros', '-' .. amount) end
end

-- The audit entry of a hold that lapsed at its TTL (the shape of lapsed-hold-entry.ts in
-- core): without it the log could not say why the agent's held amount went down.
local function lapsed_entry(id, amount, expires_at, now)
  local dollars = tonumber(amount) / 1000000
  return cjson.encode({
    at = tonumber(now), handle = redis.call('HGET', agent, 'handle'), type = 'released',
    summary = 'hold of $' .. dollars .. ' lapsed at its expiry: neither settled nor released in time',
    data = { holdId = id, reason = 'expired', amount = dollars, expiredAt = tonumber(expires_at) },
  })
end

-- Releases the holds that lapsed by now (auditing each), and forgets finished hold ids past
-- the retention.
local function sweep(now, forget_before)
  local lapsed = redis.call('ZRANGEBYSCORE', holds, '-inf', now, 'WITHSCORES')
  for i = 1, #lapsed, 2 do
    local id = lapsed[i]
    local amount = redis.call('HGET', holdamt, id) or '0'
    drop_hold(id, amount)
    finish(id, 'expired', now)
    redis.call('RPUSH', audit, lapsed_entry(id, amount, lapsed[i + 1], now))
  end
  local old = redis.call('ZRANGEBYSCORE', donetime, '-inf', forget_before, 'LIMIT', 0, 100)
  if #old > 0 then
    redis.call('HDEL', done, unpack(old))
    redis.call('ZREM', donetime, unpack(old))
  end
end

local function push_audit(entries, max)
  if #entries == 0 then return end
  redis.call('RPUSH', audit, unpack(entries))
  redis.call('LTRIM', audit, -tonumber(max), -1)
end

-- Buffered audit entries of this agent ride along from ARGV[first] on: written first, in
-- order, whatever the outcome.
local function buffered(first)
  local entries = {}
  for i = first, #ARGV do entries[#entries + 1] = ARGV[i] end
  return entries
end

local function record()
  local fields = redis.call('HGETALL', agent)
  fields[#fields + 1] = 'liveHeldMicros'
  fields[#fields + 1] = tonumber(redis.call('HGET', agent, 'heldMicros'))
  return fields
end
`

/** The record of an agent as of `now`, read only (lapsed holds are subtracted, not swept). */
const GET = `
local agent, holds, holdamt = KEYS[1], KEYS[2], KEYS[3]
local fields = redis.call('HGETALL', agent)
if #fields == 0 then return nil end
local held = tonumber(redis.call('HGET', agent, 'heldMicros'))
for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', ARGV[1])) do
  held = held - tonumber(redis.call('HGET', holdamt, id) or '0')
end
fields[#fields + 1] = 'liveHeldMicros'
fields[#fields + 1] = held
return fields
`

// ARGV: handle, credentialHash, capMicros, currency, createdAt, updatedAt, policy
// KEYS: agent, credential index, agents index
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], 'handle', ARGV[1], 'credentialHash', ARGV[2], 'status', 'active',
  'capMicros', ARGV[3], 'spentMicros', '0', 'heldMicros', '0', 'currency', ARGV[4],
  'createdAt', ARGV[5], 'updatedAt', ARGV[6], 'policy', ARGV[7])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
fields[#fields + 1] = 'liveHeldMicros'
fields[#fields + 1] = 0
return {'ok', fields}
`

// ARGV: holdId, amount, expiresAt, now, forgetBefore, maxAudit, audit, ...buffered
const RESERVE = `${COMMON}
push_audit(buffered(8), ARGV[6])
if redis.call('EXISTS', agent) == 0 then return {'not_found'} end
local id, amount, now = ARGV[1], ARGV[2], ARGV[4]
sweep(now, ARGV[5])
if redis.call('HGET', agent, 'status') == 'revoked' then return {'revoked', record()} end
-- A retried reserve (same hold id, still live) must not hold twice.
if redis.call('HEXISTS', holdamt, id) == 1 then return {'ok', record()} end
local cap = tonumber(redis.call('HGET', agent, 'capMicros'))
local spent = tonumber(redis.call('HGET', agent, 'spentMicros'))
local held = tonumber(redis.call('HGET', agent, 'heldMicros'))
local available = cap - spent - held
if available <= 0 or tonumber(amount) > available then return {'cap', record()} end
redis.call('ZADD', holds, ARGV[3], id)
redis.call('HSET', holdamt, id, amount)
redis.call('HINCRBY', agent, 'heldMicros', amount)
redis.call('HDEL', done, id)
redis.call('ZREM', donetime, id)
if ARGV[7] ~= '' then push_audit({ARGV[7]}, ARGV[6]) end
return {'ok', record()}
`

// ARGV: holdId, costMicros, now, forgetBefore, maxAudit, audit, ...buffered
const SETTLE = `${COMMON}
push_audit(buffered(7), ARGV[5])
if redis.call('EXISTS', agent) == 0 then return {'not_found'} end
local id, now = ARGV[1], ARGV[3]
sweep(now, ARGV[4])
local amount = redis.call('HGET', holdamt, id)
local ended = redis.call('HGET', done, id)
if not amount and (ended == 'settled' or ended == 'released') then
  return {'duplicate', record()}
end
if amount then drop_hold(id, amount) end
-- The money was spent whether or not the hold was still live: record it either way.
redis.call('HINCRBY', agent, 'spentMicros', ARGV[2])
finish(id, 'settled', now)
if ARGV[6] ~= '' then push_audit({ARGV[6]}, ARGV[5]) end
if amount then return {'settled', record()} end
return {'late', record()}
`

// ARGV: holdId, now, forgetBefore, maxAudit, audit, ...buffered
const RELEASE = `${COMMON}
push_audit(buffered(6), ARGV[4])
if redis.call('EXISTS', agent) == 0 then return {'not_found'} end
local id, now = ARGV[1], ARGV[2]
sweep(now, ARGV[3])
local amount = redis.call('HGET', holdamt, id)
if not amount then
  -- Released before it was ever held: remember it, so a later settle cannot charge it.
  if redis.call('HEXISTS', done, id) == 0 then finish(id, 'released', now) end
  return {'none', record()}
end
drop_hold(id, amount)
finish(id, 'released', now)
if ARGV[5] ~= '' then push_audit({ARGV[5]}, ARGV[4]) end
return {'released', record()}
`

// KEYS: the six ledger keys, then the events channel is ARGV.
// ARGV: now, capMicros or '', policy or '', maxAudit, audit, channel, event, ...buffered
const UPDATE = `${COMMON}
push_audit(buffered(8), ARGV[4])
if redis.call('EXISTS', agent) == 0 then return {'not_found'} end
if ARGV[2] ~= '' then redis.call('HSET', agent, 'capMicros', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', agent, 'policy', ARGV[3]) end
redis.call('HSET', agent, 'updatedAt', ARGV[1])
sweep(ARGV[1], '-inf')
if ARGV[5] ~= '' then push_audit({ARGV[5]}, ARGV[4]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'ok', record()}
`

// KEYS: the six ledger keys, then the revocations index (sorted set: handle -> when).
// ARGV: handle, reason, now, maxAudit, audit, channel, event, ...buffered
const REVOKE = `${COMMON}
if redis.replicate_commands then redis.replicate_commands() end
push_audit(buffered(8), ARGV[4])
if redis.call('EXISTS', agent) == 0 then return {'not_found'} end
sweep(ARGV[3], '-inf')
if redis.call('HGET', agent, 'status') == 'revoked' then return {'already', record()} end
redis.call('HSET', agent, 'status', 'revoked', 'revokedAt', ARGV[3], 'revokedReason', ARGV[2],
  'updatedAt', ARGV[3])
-- Scored by the Redis server's clock, one clock for the whole fleet: a subscriber that
-- connects later catches up on the revocations made since it subscribed (redis-event-feed.ts).
local t = redis.call('TIME')
redis.call('ZADD', KEYS[7], t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)), ARGV[1])
if ARGV[5] ~= '' then push_audit({ARGV[5]}, ARGV[4]) end
-- Published by the same atomic step: no process can see the revocation without the event
-- having been sent.
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'revoked', record()}
`

// KEYS: agent, activity list. ARGV: event JSON, keep
const ACTIVITY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {ARGV[1]} end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
return redis.call('LRANGE', KEYS[2], 0, -1)
`

// KEYS: agent, marks set. ARGV: key. -1 when the agent is unknown.
const MARK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('SADD', KEYS[2], ARGV[1])
`

/** The scripts, by the command name they are defined under on the client. */
export const SCRIPTS = {
  killswitchGetV1: { numberOfKeys: 3, lua: GET },
  killswitchCreateV1: { numberOfKeys: 3, lua: CREATE },
  killswitchReserveV1: { numberOfKeys: 6, lua: RESERVE },
  killswitchSettleV1: { numberOfKeys: 6, lua: SETTLE },
  killswitchReleaseV1: { numberOfKeys: 6, lua: RELEASE },
  killswitchUpdateV1: { numberOfKeys: 6, lua: UPDATE },
  killswitchRevokeV1: { numberOfKeys: 7, lua: REVOKE },
  killswitchActivityV1: { numberOfKeys: 2, lua: ACTIVITY },
  killswitchMarkV1: { numberOfKeys: 2, lua: MARK },
} as const

export type ScriptName = keyof typeof SCRIPTS
