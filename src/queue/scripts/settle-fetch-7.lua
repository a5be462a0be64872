--[[ Settle a worker's finished jobs and fetch its next ones: the hot path, one call.
  KEYS[1] waiting (sorted set id -> priority * 2^32 + sequence)
  KEYS[2] delayed (sorted set id -> run-at ms)
  KEYS[3] active (sorted set id -> lease deadline ms, and one member of 257 '~' at +inf: see KEEP)
  KEYS[4] completed (list of ids, newest first)
  KEYS[5] dead letters (list of ids, newest first)
  KEYS[6] meta (hash)
  KEYS[7] events (stream)
  ARGV[1] job key prefix     ARGV[2] wake channel     ARGV[3] events max length (0: none)
  ARGV[4] lease ms           ARGV[5] jobs to fetch    ARGV[6] stalls allowed before a job is dead
  ARGV[7] global concurrency (0: none)   ARGV[8] rate: jobs per window (0: none)   ARGV[9] rate window ms
  ARGV[10] most delayed jobs promoted and expired leases reaped in this call
  ARGV[11] number of settlements, then 6 per settlement:
           id, token, kind (c: completed, r: failed and retried, x: failed for good),
           payload (result or error, JSON), delay ms (r) , keep ('count age' for c and x; count -1 = all)
  Returns { now, stale settlements (their ids follow), next delayed run-at (-1: none),
            next lease deadline (-1: none), ms until the rate window lets more through (0: the rate did not cap this fetch),
            paused (0/1), the queue's default job options (JSON; '' for none or when no job was
            fetched), then 7 per fetched job: id, name, data, options, attempt, token, created ms }
  A settlement is stale when the job is not active under that token any more (its lease was
  reaped and it went back to waiting, or another worker has it): it changes nothing. ]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Numbers go to Redis as text made here with '%d': a Lua number handed to redis.call is
-- formatted with '%.14g', several times the cost.
local nowS = string.format('%d', now)
local W, D, A, C, X, M, E = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local jp, chan, evmax = ARGV[1], ARGV[2], tonumber(ARGV[3])
local lease, want, maxStalls = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local global, rateMax, rateWin = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local n = tonumber(ARGV[11])
local F = function(x) return string.format('%d', x) end
-- One member longer than any job id (at most 256) and than a listpack member may be (64 bytes by
-- default) keeps the active set in its skiplist encoding: in a listpack every lease added
-- walks the set parsing each score (~26k server instructions per job at concurrency 100).
-- Its score is +inf, so no lease sweep and no count of jobs (ZCOUNT -inf (+inf) sees it.
local KEEP = string.rep('~', 257)
-- #include event-buffer.lua (ev, flushEvents: needs M, E and evmax)

local function pushError(J, payload)
  local list = redis.call('HGET', J, 'e')
  if list then
    list = cjson.decode(list)
  else
    list = {}
  end
  list[#list + 1] = cjson.decode(payload)
  while #list > 10 do table.remove(list, 1) end
  redis.call('HSET', J, 'e', cjson.encode(list))
end

-- Trims a settled list to its keep policy; `len` is its length after the push. A job kept by
-- age expires by itself (PEXPIRE: its result has a TTL); its list entry goes when it is the oldest.
local function keep(L, J, spec, len)
  local count, age = string.match(spec, '^(-?%d+) (%d+)$')
  count, age = tonumber(count), tonumber(age)
  if age > 0 then redis.call('PEXPIRE', J, age) end
  if count >= 0 and len > count then
    local gone = redis.call('RPOP', L, len - count)
    for i = 1, #gone do redis.call('DEL', jp .. gone[i]) end
  end
  if age > 0 then
    for _ = 1, 100 do
      local oldest = redis.call('LINDEX', L, -1)
      if not oldest then break end
      local f = redis.call('HGET', jp .. oldest, 'f')
      if f and now - tonumber(f) <= age then break end
      redis.call('RPOP', L)
      redis.call('DEL', jp .. oldest)
    end
  end
end

local stale = {}
local settledActive = {}
local done, failed, dead = 0, 0, 0
local woke = false
local a = 12
for _ = 1, n do
  local id, token, kind, payload, delay, spec = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]), ARGV[a + 5]
  a = a + 6
  local J = jp .. id
  local cur = redis.call('HMGET', J, 'k', 's')
  if cur[1] ~= token or cur[2] ~= 'a' then
    stale[#stale + 1] = id
  else
    settledActive[#settledActive + 1] = id
    if kind == 'c' then
      done = done + 1
      if string.sub(spec, 1, 2) == '0 ' then
        redis.call('DEL', J)
      else
        -- the lease's token is of no use once the job is done; no result is stored when there is none
        if payload == '' then
          redis.call('HSET', J, 's', 'c', 'f', nowS)
        else
          redis.call('HSET', J, 's', 'c', 'r', payload, 'f', nowS)
        end
        redis.call('HDEL', J, 'k')
        keep(C, J, spec, redis.call('LPUSH', C, id))
      end
      ev('completed', id)
    elseif kind == 'r' then
      failed = failed + 1
      pushError(J, payload)
      if delay > 0 then
        local at = F(now + delay)
        redis.call('HSET', J, 's', 'd', 'rt', at)
        redis.call('ZADD', D, at, id)
      else
        local prio = tonumber(redis.call('HGET', J, 'P') or '0')
        local seq = redis.call('HINCRBY', M, 'seq', 1) % 4294967296
        redis.call('HSET', J, 's', 'w')
        redis.call('ZADD', W, F(prio * 4294967296 + seq), id)
        woke = true
      end
      ev('retried', id, 'delay', delay, 'err', payload)
    else
      failed = failed + 1
      dead = dead + 1
      pushError(J, payload)
      if string.sub(spec, 1, 2) == '0 ' then
        redis.call('DEL', J)
      else
        redis.call('HSET', J, 's', 'x', 'f', nowS)
        keep(X, J, spec, redis.call('LPUSH', X, id))
      end
      ev('dead-lettered', id, 'err', payload)
    end
  end
end
if #settledActive > 0 then redis.call('ZREM', A, unpack(settledActive)) end
if done > 0 then redis.call('HINCRBY', M, 'completed', done) end
if failed > 0 then redis.call('HINCRBY', M, 'failed', failed) end
if dead > 0 then redis.call('HINCRBY', M, 'dead', dead) end
-- With a global concurrency, a settled job frees a slot another worker may be waiting for.
if global > 0 and #settledActive > 0 then woke = true end

-- Delayed jobs that are due join the waiting set, behind the jobs already waiting at their priority.
local due = redis.call('ZRANGEBYSCORE', D, '-inf', nowS, 'LIMIT', 0, ARGV[10])
if #due > 0 then
  redis.call('ZREM', D, unpack(due))
  for i = 1, #due do
    local J = jp .. due[i]
    local prio = tonumber(redis.call('HGET', J, 'P') or '0')
    local seq = redis.call('HINCRBY', M, 'seq', 1) % 4294967296
    redis.call('HSET', J, 's', 'w')
    redis.call('ZADD', W, F(prio * 4294967296 + seq), due[i])
    ev('waiting', due[i])
  end
  woke = true
end

-- Leases that ran out: the worker died or froze. Back to the front of their priority, or dead
-- after too many stalls.
local expired = redis.call('ZRANGEBYSCORE', A, '-inf', nowS, 'LIMIT', 0, ARGV[10])
if #expired > 0 then
  redis.call('ZREM', A, unpack(expired))
  for i = 1, #expired do
    local id = expired[i]
    local J = jp .. id
    local stalls = redis.call('HINCRBY', J, 'st', 1)
    redis.call('HINCRBY', M, 'stalled', 1)
    if stalls > maxStalls then
      pushError(J, cjson.encode({ message = 'the job stalled ' .. stalls .. ' times (its worker died or froze past its lease)', code = 'VALKIT_JOB_STALLED', at = now }))
      redis.call('HSET', J, 's', 'x', 'f', nowS)
      redis.call('LPUSH', X, id)
      redis.call('HINCRBY', M, 'dead', 1)
      ev('stalled', id, 'final', 1)
    else
      local prio = tonumber(redis.call('HGET', J, 'P') or '0')
      redis.call('HSET', J, 's', 'w')
      redis.call('ZADD', W, F(prio * 4294967296), id)
      ev('stalled', id, 'final', 0)
      woke = true
    end
  end
end

local paused = redis.call('HGET', M, 'paused') == '1'
local rateWait = 0
local capped = false
if paused then want = 0 end
if want > 0 and global > 0 then
  local free = global - redis.call('ZCOUNT', A, '-inf', '(+inf')
  if free < want then
    want = math.max(free, 0)
    capped = true
  end
end
if want > 0 and rateMax > 0 then
  local start = tonumber(redis.call('HGET', M, 'rs') or '0')
  local used = 0
  if now - start < rateWin then
    used = tonumber(redis.call('HGET', M, 'rn') or '0')
  else
    start = now - ((now - start) % rateWin)
    redis.call('HSET', M, 'rs', start, 'rn', 0)
  end
  if used + want > rateMax then
    -- Capped by the window: say when it opens again, so the worker looks then.
    want = math.max(rateMax - used, 0)
    rateWait = math.max(start + rateWin - now, 1)
  end
end

local out = { now, #stale }
for i = 1, #stale do out[#out + 1] = stale[i] end
local slotDelayed, slotLease, slotRate = #out + 1, #out + 2, #out + 3
out[slotDelayed], out[slotLease], out[slotRate] = -1, -1, rateWait
out[#out + 1] = paused and 1 or 0
local slotDefaults = #out + 1
out[slotDefaults] = ''

local taken = 0
if want > 0 then
  local popped = redis.call('ZPOPMIN', W, want)
  taken = #popped / 2
  if taken > 0 then
    local deadline = F(now + lease)
    local last = redis.call('HINCRBY', M, 'tok', taken)
    local za = { '+inf', KEEP }
    for i = 1, taken do
      local id = popped[2 * i - 1]
      local J = jp .. id
      local token = F(last - taken + i)
      local f = redis.call('HMGET', J, 'n', 'd', 'o', 't', 'a')
      local attempt = tonumber(f[5] or '0') + 1
      local attemptS = F(attempt)
      redis.call('HSET', J, 'a', attemptS, 'k', token, 's', 'a')
      za[#za + 1] = deadline
      za[#za + 1] = id
      out[#out + 1] = id
      out[#out + 1] = f[1] or ''
      out[#out + 1] = f[2] or 'null'
      out[#out + 1] = f[3] or ''
      out[#out + 1] = attempt
      out[#out + 1] = token
      out[#out + 1] = f[4] or 0
      ev('active', id, 'a', attemptS)
    end
    redis.call('ZADD', A, unpack(za))
    -- The queue's default job options travel with the jobs, so every worker applies them.
    out[slotDefaults] = redis.call('HGET', M, 'opt') or ''
    if rateMax > 0 then redis.call('HINCRBY', M, 'rn', taken) end
  end
end

-- Jobs made ready here that this worker did not take are for the workers asleep.
if woke and not paused and redis.call('ZCARD', W) > 0 and redis.call('HDEL', M, 'sleep') == 1 then
  redis.call('SPUBLISH', chan, 'w')
end
if taken < want or want == 0 then
  -- Nothing (more) to run now: say when to look again, and ask producers to wake us.
  local nd = redis.call('ZRANGE', D, 0, 0, 'WITHSCORES')
  if nd[2] then out[slotDelayed] = tonumber(nd[2]) end
  if taken < want or capped then redis.call('HSET', M, 'sleep', 1) end
end
local nl = redis.call('ZRANGE', A, 0, 0, 'WITHSCORES')
if nl[2] and nl[1] ~= KEEP then out[slotLease] = tonumber(nl[2]) end
flushEvents()
return out
