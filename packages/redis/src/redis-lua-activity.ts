// The runaway detectors' activity window of an agent, in Lua: appended by the reserve that
// grants a call (so a guarded call costs no round trip of its own for it) or by the activity
// script (a free tool's call). The window is a list of event JSON, oldest first, trimmed to
// the last `keep`; `activitySeq` in the agent hash counts every event ever appended, so a
// process that keeps a copy of the window (redis-activity-mirror.ts) reads back only the
// events it has not seen, never the whole window each call.

/** Lua chunk: `activity_args(i)` and `record_activity(agent, list, act)`. Needs `int`. */
export const ACTIVITY_LUA = `
-- The activity ARGV from position i: keep ('' for none), since (the seq of the caller's copy,
-- -1 for none), have (how many events that copy holds), count, then count events. Returns
-- the request (nil for none) and the position after it.
local function activity_args(i)
  local count = tonumber(ARGV[i + 3])
  if ARGV[i] == '' then return nil, i + 4 + count end
  local act = { keep = tonumber(ARGV[i]), since = tonumber(ARGV[i + 1]),
    have = tonumber(ARGV[i + 2]), events = {} }
  for j = 1, count do act.events[j] = ARGV[i + 3 + j] end
  return act, i + 4 + count
end

-- Appends the events, keeps the last \`keep\`, and replies what the caller's copy lacks:
-- {seq, '0', events after its copy} when the copy and those cover the window, else
-- {seq, '1', the whole window}.
local function record_activity(agent, list, act)
  -- RPUSH answers the length: no LLEN, and no LTRIM while the window is not full.
  local len
  if #act.events > 0 then len = redis.call('RPUSH', list, unpack(act.events))
  else len = redis.call('LLEN', list) end
  if len > act.keep then
    redis.call('LTRIM', list, -act.keep, -1)
    len = act.keep
  end
  local seq = redis.call('HINCRBY', agent, 'activitySeq', #act.events)
  local fresh = seq - act.since
  if act.since < 0 or fresh < 0 or act.have + fresh < len then
    return { seq, '1', redis.call('LRANGE', list, 0, -1) }
  end
  if fresh == 0 then return { seq, '0', {} } end
  return { seq, '0', redis.call('LRANGE', list, -fresh, -1) }
end
`
