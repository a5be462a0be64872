--[[ Acquire a lock, semaphore permit or read/write slot for an owner, or queue the owner.
  Mode x is exclusive (mutex, writer, leader): granted when nobody holds the resource. Mode s is
  shared (permit, reader): granted when there is no exclusive holder and fewer than limit shared
  ones. A fair caller never overtakes a queued waiter: it queues, and a release (or this call,
  when a holder's grant ran out) hands the resource to the head of the queue. An unfair caller
  takes the resource whenever it has room and leaves a deadline that makes releases announce
  themselves. An owner that already holds the resource gets its token again with a fresh TTL.
  Every grant gets a fencing token, max(last token + 1, server time in microseconds).
  KEYS[1] exclusive holder (string "token owner"; expires with the grant)
  KEYS[2] shared holders (sorted set owner -> expiry, server ms)
  KEYS[3] shared holders' tokens (hash owner -> token)
  KEYS[4] fence (the last token granted)
  KEYS[5] wait queue (list of owners, oldest first)
  KEYS[6] waiters (hash owner -> "deadline|ttl|mode|limit"; field "!u" = latest deadline of an unfair waiter)
  ARGV[1] owner
  ARGV[2] four flags: mode (x or s); 1 fair, 0 unfair; 1 when the owner is already queued (a
          re-check), else 0; 1 if the kind has shared holders (semaphore, read/write lock), else 0
  ARGV[3] limit of shared holders      ARGV[4] ttl ms      ARGV[5] wait ms (0: do not wait)
  ARGV[6] this instance's owner prefix      ARGV[7] fence retention ms
  The resource's channel: the exclusive holder's key with its last letter (x) replaced by ch.
  (Flags in one argument and the channel derived: every argument costs the server ~1.5k instructions.)
  Returns { 1, token, now ms, grants... }   granted
        | { 0, ms until a holder's grant runs out (-1: none), now ms, grants... }   not granted
  where grants are (owner, token, expiry ms) triples of this instance's waiters served by the call ]]
-- Exclusive cases before the shared block (whose functions cost to define): the uncontended
-- grant, and a caller that must wait behind another holder (fair: joins the queue; unfair:
-- leaves its deadline).
local flags = ARGV[2]
if string.byte(flags, 1) == 120 and string.byte(flags, 4) == 48 then
  -- Mode x (120), no shared holders (48: '0').
  local v = redis.call('GET', KEYS[1])
  if not v then
    -- Free: granted when unfair or nobody is queued.
    if string.byte(flags, 2) == 48 or redis.call('EXISTS', KEYS[6]) == 0 then
      -- The clock as text (µs and ms), kept in TIME's reply: a batch reads TIME once, so its calls
      -- share it. Text, not numbers: tonumber and '%.0f' of 16 digits were a tenth of the cost.
      local t = redis.call('TIME')
      local us = t.us
      if not us then
        local u = t[2]
        us = t[1] .. string.rep('0', 6 - #u) .. u
        t.us, t.ms = us, string.sub(us, 1, -4)
      end
      -- max(last + 1, now µs): equal-length digit strings compare as their numbers.
      local text = us
      local last = redis.call('GET', KEYS[4])
      if last and (#last > #us or (#last == #us and last >= us)) then
        text = string.format('%d', tonumber(last) + 1)
      end
      redis.call('SET', KEYS[4], text, 'PX', ARGV[7])
      redis.call('SET', KEYS[1], text .. ' ' .. ARGV[1], 'PX', ARGV[4])
      return { 1, text, t.ms }
    end
  elseif (flags == 'x100' or flags == 'x000') and ARGV[5] ~= '0' and string.match(v, '^%d+ (.+)$') ~= ARGV[1] then
    -- Held by another (live: GET saw it), and the caller waits: nothing can be handed out while
    -- the holder holds it, so the general path would do just this. Fair, not yet queued: to the
    -- tail of the queue. Unfair: leave the latest deadline of an unfair waiter, so that the
    -- release announces itself.
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local wait = tonumber(ARGV[5])
    local fair = flags == 'x100'
    if fair then
      redis.call('RPUSH', KEYS[5], ARGV[1])
      redis.call('HSET', KEYS[6], ARGV[1], string.format('%d', now + wait) .. '|' .. ARGV[4] .. '|x|' .. ARGV[3])
    elseif tonumber(redis.call('HGET', KEYS[6], '!u') or '0') < now + wait then
      redis.call('HSET', KEYS[6], '!u', string.format('%d', now + wait))
    end
    -- The waiters' keys live at least as long as this wait (the queue only when it was joined).
    for k = fair and 5 or 6, 6 do
      if redis.call('PTTL', KEYS[k]) < wait then
        redis.call('PEXPIRE', KEYS[k], ARGV[5])
      end
    end
    local left = redis.call('PTTL', KEYS[1])
    if left < 0 then
      left = -1
    end
    return { 0, left, now }
  end
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

local owner, mode, limit = ARGV[1], string.sub(flags, 1, 1), tonumber(ARGV[3])
local fair, queued, shared = string.sub(flags, 2, 2) == '1', string.sub(flags, 3, 3) == '1', string.sub(flags, 4, 4) == '1'
local ttl, wait = tonumber(ARGV[4]), tonumber(ARGV[5])
local channel, mine, fenceMs = string.sub(X, 1, -2) .. 'ch', ARGV[6], tonumber(ARGV[7])

if shared then
  prune()
end
local waiters = redis.call('EXISTS', QD) == 1
if fair and waiters then
  pump(channel, mine, fenceMs, shared)
end
local held = holding(owner, mode)
if held then
  if mode == 'x' then
    redis.call('PEXPIRE', X, ttl)
  else
    redis.call('ZADD', S, int(now + ttl), owner)
    keep(S, ttl)
    keep(ST, ttl)
  end
  return { 1, held, clock(), unpack(granted) }
end
if (not fair or not waiters or redis.call('LLEN', Q) == 0) and free(mode, limit, shared) then
  if queued then
    redis.call('LREM', Q, 1, owner)
    redis.call('HDEL', QD, owner)
  end
  local token = grant(owner, mode, ttl, fenceMs)
  return { 1, token, now, unpack(granted) }
end
clock()
if wait > 0 then
  if fair then
    if not queued then
      redis.call('RPUSH', Q, owner)
      redis.call('HSET', QD, owner, int(now + wait) .. '|' .. int(ttl) .. '|' .. mode .. '|' .. int(limit))
      keep(Q, wait)
      keep(QD, wait)
    end
  else
    local latest = tonumber(redis.call('HGET', QD, '!u') or '0')
    if latest < now + wait then
      redis.call('HSET', QD, '!u', int(now + wait))
    end
    keep(QD, wait)
  end
end
return { 0, untilExpiry(shared), now, unpack(granted) }
