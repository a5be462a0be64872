--[[ Run one tick of a schedule: exactly once per tick, whichever instance calls first.
  KEYS[1] schedules (hash id -> definition JSON)
  KEYS[2] next ticks (sorted set id -> next tick ms)
  KEYS[3] waiting   KEYS[4] meta   KEYS[5] events   KEYS[6] delayed (unused, keeps the queue's keys together)
  ARGV[1] job key prefix   ARGV[2] wake channel   ARGV[3] events max length
  ARGV[4] schedule id      ARGV[5] the tick the caller saw due (ms)   ARGV[6] the tick after it (ms; -1: none)
  ARGV[7] number of jobs to add for this tick (0 when the missed-tick policy skips it), then 5 per job:
          job id, name, data, priority, options
  Returns { 1, now }  claimed: the jobs were added and the next tick set
        | { 0, now, next tick }  another instance claimed it (or the schedule changed or was removed) ]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local S, N, W, M, E = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local jp, chan, evmax, sid, tick, after = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local cur = redis.call('ZSCORE', N, sid)
if not cur or string.format('%.0f', tonumber(cur)) ~= tick then
  return { 0, now, cur and tonumber(cur) or -1 }
end
if after >= 0 then
  redis.call('ZADD', N, string.format('%.0f', after), sid)
else
  redis.call('ZREM', N, sid)
end
local n = tonumber(ARGV[7])
local a = 8
local added = 0
for _ = 1, n do
  local id, name, data, prio, opts = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
  a = a + 5
  local J = jp .. id
  if redis.call('EXISTS', J) == 0 then
    local seq = redis.call('HINCRBY', M, 'seq', 1) % 4294967296
    redis.call('HSET', J, 'n', name, 'd', data, 't', now, 'a', 0, 's', 'w', 'sc', sid)
    if prio ~= 0 then redis.call('HSET', J, 'P', prio) end
    if opts ~= '' then redis.call('HSET', J, 'o', opts) end
    redis.call('ZADD', W, string.format('%.0f', prio * 4294967296 + seq), id)
    added = added + 1
    if evmax > 0 then redis.call('XADD', E, 'MAXLEN', '~', evmax, '*', 'e', 'added', 'i', id, 'n', name) end
  end
end
if added > 0 then
  redis.call('HINCRBY', M, 'added', added)
  if redis.call('HGET', M, 'paused') ~= '1' and redis.call('HDEL', M, 'sleep') == 1 then
    redis.call('SPUBLISH', chan, 'w')
  end
end
return { 1, now }
