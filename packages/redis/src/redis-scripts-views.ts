// Reading window spend on the server clock. Reserves pick their windows on Redis's `TIME`
// (redis-lua-levels.ts, window()), while core names the windows it reads on its own clock
// (ledger/levels.ts, windowKey at `now`): on a process whose clock is a day off, the key of
// "today" is tomorrow's or yesterday's window. So the read takes `TIME` too, and reads a key
// naming this process's current window of its `per` and zone as the current window of Redis's
// clock, the one a reserve made at the same moment holds against; any other key (a window a
// reserve named, a past window) is read as named.
//
// The zone of a key: UTC for an agent's windows, its budget's `timeZone` for a budget's.
// Lua has no time zone data, so the client sends each zone's windows, of its clock and of
// Redis's (redis-zone-windows.ts, toViewsJSON); a zone missing or stale for `TIME` is asked
// for, as the reserve asks ({'zones', [zone...], now}), and nothing is read.
//
// KEYS: one usage hash of the keys' slot (routing only). ARGV: the prefix of the keys (a
// cluster slot's), the zones JSON ({zone: {per: [our start, store start, store end]}}), then
// the window keys (ledger/levels.ts). Replies spent, held of each (0 for a window never used).
const WINDOW_USAGE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, zones = ARGV[1], cjson.decode(ARGV[2])
local out, missing, asked = {}, {}, {}
for i = 3, #ARGV do
  local key = ARGV[i]
  local scope, id, per, start = string.match(key, '^(%a+):(.+)/(%a+)@(%d+)$')
  if per and per ~= 'lifetime' then
    local zone = ''
    if scope == 'budget' then
      zone = redis.call('HGET', prefix .. 'budget:' .. id, 'timeZone') or ''
    end
    local w = zones[zone] and zones[zone][per]
    if not w or now < w[2] or now >= w[3] then
      if not asked[zone] then
        asked[zone] = true
        missing[#missing + 1] = zone
      end
    elseif tonumber(start) == w[1] then
      key = scope .. ':' .. id .. '/' .. per .. '@' .. string.format('%.0f', w[2])
    end
  end
  local v = redis.call('HMGET', prefix .. 'usage:' .. key, 'spentMicros', 'heldMicros')
  out[#out + 1] = v[1] or '0'
  out[#out + 1] = v[2] or '0'
end
if #missing > 0 then return {'zones', missing, now} end
return out
`

export const VIEW_SCRIPTS = {
  killswitchWindowUsageV1: { numberOfKeys: 1, lua: WINDOW_USAGE },
} as const

export type ViewScriptName = keyof typeof VIEW_SCRIPTS
