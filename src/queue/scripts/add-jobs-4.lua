--[[ Add jobs to a queue (one call for one job or a bulk).
  KEYS[1] waiting (sorted set id -> priority * 2^32 + sequence)
  KEYS[2] delayed (sorted set id -> run-at, server ms)
  KEYS[3] meta (hash: id, seq, sleep, added, dropped, paused...)
  KEYS[4] events (stream)
  ARGV[1] job key prefix (every job is a hash <prefix><id> in the queue's slot)
  ARGV[2] wake channel (sharded; published when a worker sleeps on an empty queue)
  ARGV[3] events max length (0: no events)
  ARGV[4] max length of waiting + delayed (0: unbounded)
  ARGV[5] overflow policy: reject | drop-lowest | wait (like reject, but not counted: the producer retries)
  ARGV[6] prefix of numbered ids ('' for an unpartitioned queue, 'p<i>-' for partition i)
  ARGV[7] number of jobs, then 6 per job: id ('' = the prefix and the next number), name, data, priority, delay ms, options ('' = none)
  Returns { now ms, then per job: id, code }   code  1 waiting   2 delayed   10-14 duplicate id, nothing written; the kept job is
                                                    waiting, delayed, active, completed or dead (10 + that index)
                                                    -1 refused: the queue is full   -2 dropped: full and of lowest priority
          followed by the ids of waiting jobs dropped to make room, as { ..., 'dropped', id, id ... } ]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Numbers go to Redis as text made here with '%d': a Lua number handed to redis.call is
-- formatted with '%.14g', several times the cost.
local nowS = string.format('%d', now)
local W, D, M, E = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local jp, chan, evmax = ARGV[1], ARGV[2], tonumber(ARGV[3])
local maxlen, overflow, idPrefix, n = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local out = { now }
-- #include event-buffer.lua (ev, flushEvents: needs M, E and evmax)
local dropped = {}
local length = -1
if maxlen > 0 then length = redis.call('ZCARD', W) + redis.call('ZCARD', D) end
local ready, added = 0, 0
-- Numbers for the whole call at once: the ids of numbered jobs and the sequence that orders
-- jobs of one priority (a refused job leaves a gap, which changes nothing).
local numbered = 0
for k = 8, 7 + 6 * n, 6 do
  if ARGV[k] == '' then numbered = numbered + 1 end
end
local nextId = 0
if numbered > 0 then nextId = redis.call('HINCRBY', M, 'id', numbered) - numbered end
local nextSeq = redis.call('HINCRBY', M, 'seq', n) - n
-- Without a length bound nothing reads the sets while the call runs: one ZADD each at the end.
local batched = maxlen == 0
local zw, zd = {}, {}
local a = 8
for _ = 1, n do
  local id, name, data, prioS, delay, opts = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]), ARGV[a + 5]
  local prio = tonumber(prioS)
  a = a + 6
  -- a numbered id was just reserved, so no job can hold it: only a chosen id is looked up
  local kept = false
  local J
  if id == '' then
    nextId = nextId + 1
    id = idPrefix .. nextId
    J = jp .. id
  else
    J = jp .. id
    kept = redis.call('HGET', J, 's')
  end
  local code = 1
  if kept then
    code = ({ w = 10, d = 11, a = 12, c = 13, x = 14 })[kept] or 10
  elseif maxlen > 0 and length >= maxlen then
    code = -1
    if overflow == 'drop-lowest' and delay <= 0 then
      code = -2
      local worst = redis.call('ZRANGE', W, -1, -1, 'WITHSCORES')
      if worst[1] and math.floor(tonumber(worst[2]) / 4294967296) > prio then
        redis.call('ZREM', W, worst[1])
        redis.call('DEL', jp .. worst[1])
        dropped[#dropped + 1] = worst[1]
        length = length - 1
        code = 1
      end
    end
    if code == -1 and overflow ~= 'wait' then redis.call('HINCRBY', M, 'refused', 1) end
    if code == -2 then redis.call('HINCRBY', M, 'dropped', 1) end
  end
  if code == 1 then
    nextSeq = nextSeq + 1
    local seq = nextSeq % 4294967296
    local f = { 'n', name, 'd', data, 't', nowS, 'a', '0' }
    if prio ~= 0 then f[#f + 1] = 'P'; f[#f + 1] = prioS end
    if opts ~= '' then f[#f + 1] = 'o'; f[#f + 1] = opts end
    local score, Z, batch
    if delay > 0 then
      code = 2
      score, Z, batch = string.format('%d', now + delay), D, zd
      f[#f + 1] = 's'; f[#f + 1] = 'd'; f[#f + 1] = 'rt'; f[#f + 1] = score
    else
      f[#f + 1] = 's'; f[#f + 1] = 'w'
      score, Z, batch = string.format('%d', prio * 4294967296 + seq), W, zw
      ready = ready + 1
    end
    redis.call('HSET', J, unpack(f))
    if batched then
      batch[#batch + 1] = score
      batch[#batch + 1] = id
    else
      redis.call('ZADD', Z, score, id)
    end
    if maxlen > 0 then length = length + 1 end
    added = added + 1
    ev(code == 2 and 'delayed' or 'added', id, 'n', name)
  end
  out[#out + 1] = id
  out[#out + 1] = code
end
flushEvents()
if #zw > 0 then redis.call('ZADD', W, unpack(zw)) end
if #zd > 0 then redis.call('ZADD', D, unpack(zd)) end
if added > 0 then redis.call('HINCRBY', M, 'added', added) end
if ready > 0 and redis.call('HDEL', M, 'sleep') == 1 then
  redis.call('SPUBLISH', chan, 'w')
end
if #dropped > 0 then
  redis.call('HINCRBY', M, 'dropped', #dropped)
  out[#out + 1] = 'dropped'
  for i = 1, #dropped do out[#out + 1] = dropped[i] end
end
return out
