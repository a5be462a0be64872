--[[ Operator actions on a queue's jobs.
  KEYS[1] waiting   KEYS[2] delayed   KEYS[3] active   KEYS[4] completed   KEYS[5] dead letters   KEYS[6] meta
  KEYS[7] events (stream)
  ARGV[1] job key prefix   ARGV[2] wake channel   ARGV[3] action   ARGV[4] limit (for 'all' actions)
  ARGV[5] events max length (0: none)
  ARGV[6...] job ids (none: every job the action applies to, up to the limit)
  Events: 'waiting' for each job a retry or a promote put back, 'removed' for each job removed or drained.
  Actions:
    retry    dead jobs back to waiting, attempts and stalls reset, error history kept
    promote  delayed jobs to waiting now
    remove   jobs removed whatever their state (an active job's worker finds its lease lost)
    drain    up to `limit` waiting and delayed jobs removed (ids ignored; the caller repeats until 0)
    pause / resume   workers stop / start fetching (ids ignored)
  Returns the number of jobs the action changed (pause/resume: 1 if the state changed) ]]
local W, D, A, C, X, M, E = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local jp, chan, action, limit, evmax = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
-- #include event-buffer.lua (ev, flushEvents: needs M, E and evmax)
local F = function(x) return string.format('%.0f', x) end
local ids = {}
for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end

local function enqueue(id)
  local J = jp .. id
  local prio = tonumber(redis.call('HGET', J, 'P') or '0')
  local seq = redis.call('HINCRBY', M, 'seq', 1) % 4294967296
  redis.call('HSET', J, 's', 'w')
  redis.call('ZADD', W, F(prio * 4294967296 + seq), id)
  ev('waiting', id)
end
local function wake()
  if redis.call('HGET', M, 'paused') ~= '1' and redis.call('HDEL', M, 'sleep') == 1 then
    redis.call('SPUBLISH', chan, 'w')
  end
end

local changed = 0
if action == 'retry' then
  if #ids == 0 then ids = redis.call('LRANGE', X, 0, limit - 1) end
  for i = 1, #ids do
    local J = jp .. ids[i]
    if redis.call('HGET', J, 's') == 'x' then
      redis.call('LREM', X, 1, ids[i])
      redis.call('HSET', J, 'a', 0, 'st', 0)
      redis.call('HDEL', J, 'f', 'k')
      enqueue(ids[i])
      changed = changed + 1
    end
  end
  if changed > 0 then wake() end
elseif action == 'promote' then
  if #ids == 0 then ids = redis.call('ZRANGE', D, 0, limit - 1) end
  for i = 1, #ids do
    if redis.call('ZREM', D, ids[i]) == 1 then
      redis.call('HDEL', jp .. ids[i], 'rt')
      enqueue(ids[i])
      changed = changed + 1
    end
  end
  if changed > 0 then wake() end
elseif action == 'remove' then
  for i = 1, #ids do
    local id = ids[i]
    local s = redis.call('HGET', jp .. id, 's')
    if s then
      if s == 'w' then redis.call('ZREM', W, id)
      elseif s == 'd' then redis.call('ZREM', D, id)
      elseif s == 'a' then redis.call('ZREM', A, id)
      elseif s == 'c' then redis.call('LREM', C, 1, id)
      elseif s == 'x' then redis.call('LREM', X, 1, id) end
      redis.call('DEL', jp .. id)
      ev('removed', id)
      changed = changed + 1
    end
  end
elseif action == 'drain' then
  for _, Z in ipairs({ W, D }) do
    if changed < limit then
      local batch = redis.call('ZRANGE', Z, 0, limit - changed - 1)
      if #batch > 0 then
        for i = 1, #batch do
          redis.call('DEL', jp .. batch[i])
          ev('removed', batch[i])
        end
        redis.call('ZREM', Z, unpack(batch))
        changed = changed + #batch
      end
    end
  end
elseif action == 'pause' then
  changed = redis.call('HSET', M, 'paused', 1) == 1 and 1 or 0
elseif action == 'resume' then
  changed = redis.call('HDEL', M, 'paused')
  if changed == 1 then redis.call('SPUBLISH', chan, 'w') end
else
  return redis.error_reply('VALKIT unknown action ' .. action)
end
flushEvents()
return changed
