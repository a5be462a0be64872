--[[ Release an owner's hold on a lock, semaphore permit or read/write slot, then hand the
  resource to queued waiters (first in, first out) and, if unfair waiters are still waiting,
  announce the release on the channel (message "f").
  KEYS[1] exclusive holder (string "token owner"; expires with the grant)
  KEYS[2] shared holders (sorted set owner -> expiry, server ms)
  KEYS[3] shared holders' tokens (hash owner -> token)
  KEYS[4] fence (the last token granted)
  KEYS[5] wait queue (list of owners, oldest first)
  KEYS[6] waiters (hash owner -> "deadline|ttl|mode|limit"; field "!u" = latest deadline of an unfair waiter)
  ARGV[1] owner
  ARGV[2] two flags: mode (x or s); 1 if the kind has shared holders (semaphore, read/write lock), else 0
  ARGV[3] this instance's owner prefix      ARGV[4] fence retention ms
  The resource's channel: the exclusive holder's key with its last letter (x) replaced by ch.
  Returns { 1, now ms (0 when not read), grants... }   released
        | { -1, now ms (0 when not read) }    the owner did not hold it (it expired, or was never granted)
  where grants are (owner, token, expiry ms) triples of this instance's waiters served by the call ]]
-- The exclusive release before the shared block (whose functions cost to define): with nobody
-- queued fairly (unfair waiters are told it is free), or handing the resource straight to the
-- head of a fair queue.
local released = false
if ARGV[2] == 'x0' then
  local v = redis.call('GET', KEYS[1])
  if not v or string.match(v, '^%d+ (.+)$') ~= ARGV[1] then
    return { -1, 0 }
  end
  local head = redis.call('LPOP', KEYS[5])
  if head then
    local entry = redis.call('HGET', KEYS[6], head)
    local deadline, ms
    if entry then
      deadline, ms = string.match(entry, '^(%d+)|(%d+)|x|%d+$')
    end
    -- The clock as text (see acquire-slot): µs for the token, ms for deadlines.
    local t = redis.call('TIME')
    local u = t[2]
    local us = t[1] .. string.rep('0', 6 - #u) .. u
    local now = tonumber(string.sub(us, 1, -4))
    if deadline and tonumber(deadline) > now then
      redis.call('HDEL', KEYS[6], head)
      local text = us
      local last = redis.call('GET', KEYS[4])
      if last and (#last > #us or (#last == #us and last >= us)) then
        text = string.format('%d', tonumber(last) + 1)
      end
      redis.call('SET', KEYS[4], text, 'PX', ARGV[4])
      redis.call('SET', KEYS[1], text .. ' ' .. head, 'PX', ms)
      local expires = string.format('%d', now + tonumber(ms))
      local channel = string.sub(KEYS[1], 1, -2) .. 'ch'
      local latest = redis.call('HGET', KEYS[6], '!u')
      if latest and tonumber(latest) > now then
        redis.call('SPUBLISH', channel, 'f')
      end
      if string.sub(head, 1, #ARGV[3]) == ARGV[3] then
        return { 1, now, head, text, expires }
      end
      redis.call('SPUBLISH', channel, 'g ' .. head .. ' ' .. text .. ' ' .. expires)
      return { 1, now }
    end
    -- Past its deadline, or its entry gone: dropped, as the general path would (it goes on with the rest).
    redis.call('HDEL', KEYS[6], head)
  end
  redis.call('DEL', KEYS[1])
  if redis.call('EXISTS', KEYS[6]) == 0 then
    return { 1, 0 }
  end
  if not head then
    -- Nobody in the fair queue: only unfair waiters can be waiting; tell them it is free.
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local latest = redis.call('HGET', KEYS[6], '!u')
    if latest and tonumber(latest) > now then
      redis.call('SPUBLISH', string.sub(KEYS[1], 1, -2) .. 'ch', 'f')
    end
    return { 1, now }
  end
  released = true
end
-- BEGIN slot-shared (identical in acquire-slot, release-slot and cancel-wait; a unit test checks it)
local X, S, ST, F, Q, QD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now, nowUs
local granted = {}

local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return now
end

-- Integers as text with '%d': '%.0f' takes printf's floating-point path, several times the cost.
local function int(n)
  return string.format('%d', n)
end

local function keep(key, ms)
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, int(ms))
  end
end

-- The exclusive holder: 'token owner', or nil.
local function exclusive()
  local v = redis.call('GET', X)
  if v then
    local token, who = string.match(v, '^(%d+) (.+)$')
    return tonumber(token), who
  end
  return nil, nil
end

-- Shared holders past their expiry leave the set (a few per call: bounded work).
local function prune()
  local gone = redis.call('ZRANGEBYSCORE', S, '-inf', int(clock()), 'LIMIT', 0, 32)
  for i = 1, #gone do
    redis.call('ZREM', S, gone[i])
    redis.call('HDEL', ST, gone[i])
  end
end

-- max(last + 1, server time in microseconds): monotonic even if the counter was lost.
local function nextToken(fenceMs)
  clock()
  local last = tonumber(redis.call('GET', F) or '0')
  local token = nowUs
  if token <= last then
    token = last + 1
  end
  redis.call('SET', F, int(token), 'PX', int(fenceMs))
  return token
end

-- Room for a holder of this mode? Shared holders exist only for kinds that have them.
local function free(mode, limit, shared)
  if redis.call('EXISTS', X) == 1 then
    return false
  end
  if not shared then
    return true
  end
  local live = redis.call('ZCOUNT', S, '(' .. int(clock()), '+inf')
  if mode == 'x' then
    return live == 0
  end
  return live < limit
end

local function grant(who, mode, ms, fenceMs)
  local token = nextToken(fenceMs)
  if mode == 'x' then
    redis.call('SET', X, int(token) .. ' ' .. who, 'PX', int(ms))
  else
    redis.call('ZADD', S, int(now + ms), who)
    redis.call('HSET', ST, who, int(token))
    keep(S, ms)
    keep(ST, ms)
  end
  return token
end

-- The token a current holder got, or nil.
local function holding(who, mode)
  if mode == 'x' then
    local token, holder = exclusive()
    if holder == who then
      return token
    end
    return nil
  end
  local score = redis.call('ZSCORE', S, who)
  if score and tonumber(score) > clock() then
    return tonumber(redis.call('HGET', ST, who))
  end
  return nil
end

-- Grants to this instance's owners go back in the reply; others are told on the channel.
local function announce(who, token, expires, channel, mine)
  if string.sub(who, 1, #mine) == mine then
    granted[#granted + 1] = who
    granted[#granted + 1] = token
    granted[#granted + 1] = expires
  else
    redis.call('SPUBLISH', channel, 'g ' .. who .. ' ' .. int(token) .. ' ' .. int(expires))
  end
end

-- Hands the resource to queued waiters, first in first out, while it has room (bounded).
local function pump(channel, mine, fenceMs, shared)
  clock()
  for _ = 1, 32 do
    local head = redis.call('LINDEX', Q, 0)
    if not head then
      return
    end
    local entry = redis.call('HGET', QD, head)
    local deadline, ms, mode, limit
    if entry then
      deadline, ms, mode, limit = string.match(entry, '^(%d+)|(%d+)|(%a)|(%d+)$')
    end
    if not deadline or tonumber(deadline) <= now then
      redis.call('LPOP', Q)
      redis.call('HDEL', QD, head)
    elseif free(mode, tonumber(limit), shared) then
      redis.call('LPOP', Q)
      redis.call('HDEL', QD, head)
      local token = grant(head, mode, tonumber(ms), fenceMs)
      announce(head, token, now + tonumber(ms), channel, mine)
    else
      return
    end
  end
end

-- Milliseconds until a holder's grant runs out (-1: nobody holds it).
local function untilExpiry(shared)
  local left = redis.call('PTTL', X)
  if shared then
    local first = redis.call('ZRANGEBYSCORE', S, '(' .. int(clock()), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if first[2] then
      local rest = tonumber(first[2]) - now
      if left < 0 or rest < left then
        left = rest
      end
    end
  end
  if left < 0 then
    return -1
  end
  return left
end
-- END slot-shared

local owner, mode, shared = ARGV[1], string.sub(ARGV[2], 1, 1), string.sub(ARGV[2], 2, 2) == '1'
local channel, mine, fenceMs = string.sub(X, 1, -2) .. 'ch', ARGV[3], tonumber(ARGV[4])

if shared then
  prune()
end
if released then
  clock()
elseif mode == 'x' then
  local _, holder = exclusive()
  if holder ~= owner then
    return { -1, clock() }
  end
  redis.call('DEL', X)
else
  local score = redis.call('ZSCORE', S, owner)
  if not score then
    return { -1, clock() }
  end
  redis.call('ZREM', S, owner)
  redis.call('HDEL', ST, owner)
  if tonumber(score) <= clock() then
    return { -1, now }
  end
end
if redis.call('EXISTS', QD) == 0 then
  return { 1, now or 0 }
end
pump(channel, mine, fenceMs, shared)
local latest = redis.call('HGET', QD, '!u')
if latest and tonumber(latest) > now then
  redis.call('SPUBLISH', channel, 'f')
end
return { 1, now, unpack(granted) }
