// Approvals in Lua: the port of core's ledger/approvals.ts. A grant lives in the agent's
// record (`grants`, JSON), so the reserve that draws on it is the same atomic step as any
// other; the sweep ends expired grants (redis-lua-ledger.ts).
//
// Keys (under the prefix): `approval:<id>` hash (the record; the grant as grantAmountMicros
// and grantExpiresAt), `approvals` sorted set (ids in the order they were opened), and
// `approvalpending:<handle>` (the agent's open request, if any).

const APPROVAL_LUA = `
local PREFIX = ''
local function approval_key(id) return PREFIX .. 'approval:' .. id end
local function pending_key(handle) return PREFIX .. 'approvalpending:' .. handle end

local function approval(id)
  local v = redis.call('HMGET', approval_key(id), 'handle', 'status', 'expiresAt')
  if not v[1] then return nil end
  return { id = id, handle = v[1], status = v[2], expires = tonumber(v[3]) }
end

-- approvalAt(): a pending request past its expiry reads as expired.
local function status_at(record, now)
  if record.status == 'pending' and record.expires <= now then return 'expired' end
  return record.status
end

-- The record's fields, its status as of now.
local function approval_fields(id, now)
  local fields = redis.call('HGETALL', approval_key(id))
  for i = 1, #fields, 2 do
    if fields[i] == 'status' and fields[i + 1] == 'pending' then
      local expires = nil
      for j = 1, #fields, 2 do
        if fields[j] == 'expiresAt' then expires = tonumber(fields[j + 1]) end
      end
      if expires and expires <= now then fields[i + 1] = 'expired' end
    end
  end
  return fields
end
`

/**
 * The approval scripts, each after `ledgerLua` (redis-lua-ledger.ts): validation, clock,
 * agent keys, audit.
 */
export function approvalScripts(ledgerLua: string) {
  const chunk = `${ledgerLua}${APPROVAL_LUA}`

  // KEYS: the six ledger keys of the agent. ARGV: header, prefix, id, id valid ('1'),
  // requestedMicros, reason (cut to 500 by the client), ttlMs, audit or '', waits ('1' or '')
  const OPEN = `${chunk}
use_keys(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
PREFIX = ARGV[5]
local id = ARGV[6]
local bad = (ARGV[7] ~= '1' and 'id') or bad_micros('requestedMicros', ARGV[8]) or
  bad_ttl(ARGV[10]) or bad_time(CALLER_NOW)
if bad then return {'invalid', bad} end
local now = clock()
if redis.call('EXISTS', K.agent) == 0 then return {'not_found'} end
local handle = redis.call('HGET', K.agent, 'handle')
local open_id = redis.call('GET', pending_key(handle))
if open_id then
  local open = approval(open_id)
  if open and status_at(open, now) == 'pending' then
    -- A joining call that waits adds what it needs (ledger/approvals.ts openApproval).
    if ARGV[12] ~= '1' then return {'open', approval_fields(open_id, now)} end
    local asked = tonumber(redis.call('HGET', approval_key(open_id), 'requestedMicros'))
    redis.call('HSET', approval_key(open_id), 'requestedMicros',
      int(saturated(asked + tonumber(ARGV[8]))))
    return {'open', approval_fields(open_id, now)}
  end
  if open and open.status == 'pending' then
    redis.call('HSET', approval_key(open_id), 'status', 'expired')
  end
  redis.call('DEL', pending_key(handle))
end
redis.call('DEL', approval_key(id))
redis.call('HSET', approval_key(id), 'id', id, 'handle', handle, 'status', 'pending',
  'requestedMicros', ARGV[8], 'reason', ARGV[9], 'createdAt', int(now),
  'expiresAt', int(now + tonumber(ARGV[10])))
if not redis.call('ZSCORE', PREFIX .. 'approvals', id) then
  redis.call('ZADD', PREFIX .. 'approvals', redis.call('INCR', PREFIX .. 'approvalseq'), id)
end
redis.call('SET', pending_key(handle), id)
if ARGV[11] ~= '' then audit(ARGV[11]) end
trim_audit()
return {'created', approval_fields(id, now)}
`

  // ARGV: header, prefix, id, id valid ('1'), status, by, reason or '', has reason ('1'),
  // grant amountMicros or '', grant ttlMs or '', has grant ('1'), audit or '', channel,
  // origin. Replies {'ok', fields} or a refusal before anything is written.
  const DECIDE = `${chunk}
PREFIX = ARGV[5]
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
if ARGV[7] ~= '1' then return {'invalid', 'id'} end
local id = ARGV[6]
local now = clock()
local current = approval(id)
if not current then return {'missing'} end
local status = status_at(current, now)
if status ~= 'pending' then return {'decided', status} end
K = agent_keys(PREFIX, current.handle)
if redis.call('EXISTS', K.agent) == 0 then return {'not_found', current.handle} end
local approved = ARGV[8] == 'approved'
local grant_expires = nil
if approved then
  local agent = redis.call('HMGET', K.agent, 'status', 'revokedReason')
  if agent[1] == 'revoked' then return {'revoked', current.handle, agent[2] or ''} end
  if ARGV[14] ~= '1' then return {'invalid', 'grant'} end
  local bad = bad_micros('grant.amountMicros', ARGV[12]) or bad_ttl(ARGV[13], 'grant.ttlMs')
  if bad then return {'invalid', bad} end
  grant_expires = now + tonumber(ARGV[13])
  local live = {}
  for _, g in ipairs(cjson.decode(redis.call('HGET', K.agent, 'grants') or '[]')) do
    if tonumber(g.expiresAt) > now then live[#live + 1] = g end
  end
  live[#live + 1] = { approvalId = id, amountMicros = tonumber(ARGV[12]), expiresAt = grant_expires }
  redis.call('HSET', K.agent, 'grants', grants_json(live), 'updatedAt', int(now))
  redis.call('HSET', approval_key(id), 'grantAmountMicros', ARGV[12],
    'grantExpiresAt', int(grant_expires))
end
redis.call('HSET', approval_key(id), 'status', ARGV[8], 'decidedAt', int(now), 'decidedBy', ARGV[9])
if ARGV[11] == '1' then redis.call('HSET', approval_key(id), 'decisionReason', ARGV[10]) end
if redis.call('GET', pending_key(current.handle)) == id then
  redis.call('DEL', pending_key(current.handle))
end
if ARGV[15] ~= '' then audit(ARGV[15]) end
trim_audit()
redis.call('PUBLISH', ARGV[16],
  cjson.encode({ type = 'updated', handle = current.handle, origin = ARGV[17] }))
return {'ok', approval_fields(id, now)}
`

  // ARGV: header, prefix, status filter or '', then ids (none: every request, in the order
  // they were opened). Replies the fields of each, status as of the store's clock.
  const READ = `${chunk}
PREFIX = ARGV[5]
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
local now = clock()
local ids = {}
for i = 7, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ARGV < 7 then ids = redis.call('ZRANGE', PREFIX .. 'approvals', 0, -1) end
local out = {}
for _, id in ipairs(ids) do
  local record = approval(id)
  if record and (ARGV[6] == '' or status_at(record, now) == ARGV[6]) then
    out[#out + 1] = approval_fields(id, now)
  end
end
return {'ok', out}
`

  // KEYS: the agent's record (its slot). ARGV: header, prefix, id, handle, requestedMicros.
  // A waiting call leaves the agent's open request `id` (ledger/approvals.ts leaveApproval).
  const LEAVE = `${chunk}
PREFIX = ARGV[5]
if bad_time(CALLER_NOW) then return {'invalid', 'now'} end
local bad = bad_micros('requestedMicros', ARGV[8])
if bad then return {'invalid', bad} end
local now = clock()
local id = ARGV[6]
if redis.call('GET', pending_key(ARGV[7])) ~= id then return {'ok'} end
local open = approval(id)
if not open or status_at(open, now) ~= 'pending' then return {'ok'} end
local amount = tonumber(ARGV[8])
local asked = tonumber(redis.call('HGET', approval_key(id), 'requestedMicros'))
-- The last call to leave leaves its need: a retry of it is what a grant would let through.
local left = asked - amount
if left <= 0 then left = amount end
if left ~= asked then redis.call('HSET', approval_key(id), 'requestedMicros', int(left)) end
return {'ok'}
`

  return {
    killswitchOpenApprovalV2: { numberOfKeys: 6, lua: OPEN },
    killswitchLeaveApprovalV1: { numberOfKeys: 1, lua: LEAVE },
    killswitchDecideApprovalV2: { numberOfKeys: 0, lua: DECIDE },
    killswitchApprovalsV2: { numberOfKeys: 0, lua: READ },
  } as const
}
