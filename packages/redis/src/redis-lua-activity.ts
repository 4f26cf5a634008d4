// The runaway detectors' activity window of an agent, in Lua: appended by the reserve that
// grants a call (so a guarded call costs no round trip of its own for it) or by the activity
// script (a free tool's call). The window is a list of event JSON, oldest first: the last
// `keep` events are the window, and the list is trimmed back to them only once it holds twice
// as many (one LTRIM every `keep` events, not one a call). The `seq` of the activity state
// hash counts every event ever appended, so a process that keeps a copy of the window
// (redis-activity-mirror.ts) reads back only the events it lacks, never the whole window.
//
// What a process lacks: the events after its copy, less those it will hold by the time it
// reads this reply. A process ("reader", a random id per store) reads its replies in the
// order Redis ran its scripts (one connection, replies in order), so the events an earlier
// script of the same reader replied are in its copy before this reply is read: the script
// keeps, per agent, the seq each reader's last reply reached (`r:<reader>` in the same hash),
// and replies only the events after it. Nor are the call's own events sent back: the caller
// holds them. With one busy process, a reply carries no event at all.

/** Readers whose last position an agent keeps; past this many, the oldest are all forgotten. */
export const READERS_KEPT = 16

/** Lua chunk: `activity_args(i)` and `record_activity(list, state, act)`. */
export const ACTIVITY_LUA = `
-- The activity ARGV from position i: keep ('' for none), since (the seq of the caller's copy,
-- -1 for none), have (how many events that copy holds), reader ('' for none), count, then
-- count events. Returns the request (nil for none) and the position after it.
local function activity_args(i)
  local count = tonumber(ARGV[i + 4])
  if ARGV[i] == '' then return nil, i + 5 + count end
  local act = { keep = tonumber(ARGV[i]), since = tonumber(ARGV[i + 1]),
    have = tonumber(ARGV[i + 2]), reader = ARGV[i + 3], events = {} }
  for j = 1, count do act.events[j] = ARGV[i + 4 + j] end
  return act, i + 5 + count
end

-- Appends the events and replies {seq, from, size, events}: the window is \`size\` events
-- ending at event number \`seq\` (the call's own events last). \`from\` >= 0: the events after
-- number \`from\` that the caller lacks, its own left out (it holds them); \`from\` = -1: the
-- whole window but the call's own events.
local function record_activity(list, state, act)
  local n = #act.events
  local len
  if n > 0 then
    -- RPUSH answers the length: no LLEN.
    len = redis.call('RPUSH', list, unpack(act.events))
    if len > 2 * act.keep then
      redis.call('LTRIM', list, -act.keep, -1)
      len = act.keep
    end
  else
    len = redis.call('LLEN', list)
  end
  local size = math.min(len, act.keep)
  local from, covered = act.since, act.have
  local seq
  if act.reader ~= '' then
    local reader = 'r:' .. act.reader
    local v = redis.call('HMGET', state, 'seq', reader)
    seq = tonumber(v[1] or '0') + n
    -- An earlier reply to this reader reached further than its copy did when it sent this:
    -- that reply is read first, so its copy then holds a whole window up to there.
    local read = tonumber(v[2] or '-1')
    if read > from then from, covered = read, act.keep end
    if redis.call('HSET', state, 'seq', seq, reader, seq) > 0 and
        redis.call('HLEN', state) > ${READERS_KEPT + 1} then
      redis.call('DEL', state)
      redis.call('HSET', state, 'seq', seq, reader, seq)
    end
  elseif n > 0 then
    seq = redis.call('HINCRBY', state, 'seq', n)
  else
    seq = tonumber(redis.call('HGET', state, 'seq') or '0')
  end
  local fresh = seq - n - from
  if from < 0 or fresh < 0 or fresh + n >= size or covered + fresh + n < size then
    if size <= n then return { seq, -1, size, {} } end
    return { seq, -1, size, redis.call('LRANGE', list, -size, -n - 1) }
  end
  if fresh == 0 then return { seq, from, size, {} } end
  return { seq, from, size, redis.call('LRANGE', list, -fresh - n, -n - 1) }
end
`
