--[[ Check every rate-limit rule of a request and, only when all of them admit it, charge
  them all (all-or-nothing: a request refused by one rule consumes nothing from the others);
  for one request or for several, one after the other (the checks a process made at once).
  Time is the server's (TIME, microseconds). The call passes a variable number of keys, all
  sharing one hash tag: per rule its state key (a string, or a hash of counts per window index
  for the fixed window and sliding window counter), then an extra hash for the sliding window log
  and concurrency algorithms, then a penalty hash when the rule has a penalty.
  KEYS[1] the first rule's state key
  ARGV[1] number of checks m
  then per check: its number of rules n, then per rule: its spec "code limit window" with code
  the algorithm (1 token bucket, 2 GCRA, 3 sliding window log, 4 sliding window counter, 5 fixed
  window, 6 concurrency; plus 8 when the rule has a penalty) and window the window or lease ttl
  (ms), followed by " burst" for algorithms 1 and 2; then the cost; then the lease id (6); and
  with a penalty its spec "violations-before-a-block violation-window-ms block-ms"
  (A rule's numbers travel in one argument, parsed once per distinct text in a run: each
  argument costs the server ~1.5k instructions, and a rule's spec repeats across checks.)
  Token bucket and GCRA state (one string per key) is read once per run and written once at
  the end of the run, however many of the run's checks share the key (a per-tenant or global
  rule): the script is atomic, so nobody sees the intermediate values.
  Returns { now (µs), then per check and rule: code, remaining, reset (ms), retry after (ms, -1: never) }
  with code 1 admitted | -1 limited | -2 blocked | -3 the cost exceeds what the rule can ever admit ]]
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
-- Turning text into numbers (strtod) and numbers into text (printf) is a large share of this
-- script's cost, and the checks of one run repeat the same few values (the rules' limits,
-- windows and costs, the current window's index): both conversions are made once per value.
local numbers = setmetatable({}, { __index = function(memo, text)
  if text == nil then return nil end
  local value = tonumber(text)
  memo[text] = value
  return value
end })
-- integer digits, as '%d' writes them (a number handed to redis.call is written with '%.17g')
local digits = setmetatable({}, { __index = function(memo, value)
  local text = string.format('%d', value)
  memo[value] = text
  return text
end })
-- a rule's or a penalty's spec: three or four numbers separated by spaces, as a table
local specs = setmetatable({}, { __index = function(memo, text)
  local a1, a2, a3, a4 = string.match(text, '^(%S+) (%S+) (%S+) ?(%S*)$')
  local spec = { tonumber(a1), tonumber(a2), tonumber(a3), tonumber(a4) }
  memo[text] = spec
  return spec
end })
local m = tonumber(ARGV[1])
local out
if m == 1 and ARGV[2] == '1' then out = { now, 0, 0, 0, 0 } else out = { now } end
local floor, ceil = math.floor, math.ceil
local k, a, o = 1, 2, 2

-- string state of token bucket and GCRA rules kept by checks of several rules: read through,
-- written back once at the end of the run (the expiry is relative: the run has one clock);
-- slot[key] is the key's index in the arrays: one hash insert per key, appends otherwise
local slot, sKeys, sVals, sTtls, ns = {}, {}, {}, {}, 0
local single = false
local function readState(sk)
  local i = slot[sk]
  if i == nil then return redis.call('GET', sk) end
  return sVals[i]
end

-- kind 1: SET key value PX ms (for a check of several rules: at the end of the run) | 2: HINCRBY
-- key field by (text), and on a new field PEXPIREAT at ms (dropping an older field) | 3: append to a sliding log | 6: add a lease
local function commit(kind, sk, ak, x1, x2, x3, x4)
  if kind == 1 then
    -- a check of one rule writes at once (its key rarely repeats in a run, and keeping it costs
    -- ~2k instructions); a check of several rules keeps it (a per-tenant or global key repeats)
    if single and (ns == 0 or slot[sk] == nil) then
      redis.call('SET', sk, x1, 'PX', x2)
      return
    end
    local i = slot[sk]
    if i == nil then
      ns = ns + 1
      i = ns
      slot[sk], sKeys[i] = i, sk
    end
    sVals[i], sTtls[i] = x1, x2
  elseif kind == 2 then
    if redis.call('HINCRBY', sk, x1, x2) == numbers[x2] then
      redis.call('PEXPIREAT', sk, x3)
      if x4 then redis.call('HDEL', sk, x4) end
    end
  elseif kind == 3 then
    local seq = redis.call('HINCRBY', ak, 's', 1)
    redis.call('ZADD', sk, now, seq .. ':' .. x2)
    redis.call('HSET', ak, 't', x3)
    local keep = ceil(x1 / 1000) + 1
    redis.call('PEXPIRE', sk, keep)
    redis.call('PEXPIRE', ak, keep)
  else
    redis.call('ZADD', sk, now + x1, x4)
    redis.call('HSET', ak, x4, x2, 't', x3)
    local last = redis.call('ZRANGE', sk, -1, -1, 'WITHSCORES')
    local keep = ceil((tonumber(last[2]) - now) / 1000) + 1
    redis.call('PEXPIRE', sk, keep)
    redis.call('PEXPIRE', ak, keep)
  end
end

for _ = 1, m do
  local n = numbers[ARGV[a]]
  a = a + 1
  single = n == 1
  local admitted = true
  -- writes of a check with several rules wait until every rule has admitted it; fixed-window
  -- counts are charged at once and taken back when another rule refuses
  local pending, undo
  for i = 1, n do
    local spec = specs[ARGV[a]]
    local code = spec[1]
    local pen = code > 8
    local alg = pen and code - 8 or code
    local limit, win, burst, cost = spec[2], spec[3] * 1000, spec[4], numbers[ARGV[a + 1]]
    a = a + 2
    local extra
    if alg == 6 then
      extra = ARGV[a]
      a = a + 1
    end
    local sk = KEYS[k]
    k = k + 1
    local ak, pk
    if alg == 3 or alg == 6 then
      ak = KEYS[k]
      k = k + 1
    end
    local after, within, block = 0, 0, 0
    if pen then
      pk = KEYS[k]
      k = k + 1
      local p = specs[ARGV[a]]
      after, within, block = p[1], p[2], p[3]
      a = a + 1
    end
    local rc, remaining, reset, retry = 1, 0, 0, 0
    -- the write this rule makes if the request is admitted: commit(kind, sk, ak, x1, x2, x3, x4)
    local kind, x1, x2, x3, x4
    local blocked = 0
    if pk then blocked = tonumber(redis.call('HGET', pk, 'b') or 0) end
    if blocked > now then
      rc, retry, reset = -2, blocked - now, blocked - now
    elseif alg == 5 then
      -- fixed window aligned on the server clock: a hash field per window index
      local idx = floor(now / win)
      local field = digits[idx]
      reset = (idx + 1) * win - now
      if cost > limit then
        rc, retry = -3, -1
      elseif cost > 0 then
        -- charge at once (one call); taken back below if this or another rule refuses
        local count = redis.call('HINCRBY', sk, field, digits[cost])
        if count == cost then redis.call('PEXPIREAT', sk, ceil((idx + 1) * win / 1000) + 1) end
        if count <= limit then
          remaining = limit - count
          if n > 1 then
            undo = undo or {}
            undo[#undo + 1] = { sk, field, cost }
          end
        else
          redis.call('HINCRBY', sk, field, -cost)
          rc, remaining, retry = -1, limit - count + cost, reset
        end
      else
        local count = tonumber(redis.call('HGET', sk, field) or 0)
        remaining = limit - count
        if count > limit then rc, retry = -1, reset end
      end
    elseif alg == 1 then
      -- token bucket: capacity burst, refilled continuously at limit per window; "micro-tokens time"
      local cap = burst * 1000000
      local tokens = cap
      local s
      if ns == 0 then s = redis.call('GET', sk) else s = readState(sk) end
      if s then
        local sp = string.find(s, ' ', 1, true)
        local ts = tonumber(string.sub(s, sp + 1))
        tokens = tonumber(string.sub(s, 1, sp - 1))
        if now > ts then tokens = math.min(cap, tokens + floor((now - ts) * limit * 1000000 / win)) end
      end
      local need = cost * 1000000
      local perUs = limit * 1000000 / win
      if cost > burst then
        rc, retry = -3, -1
      elseif tokens >= need then
        local left = tokens - need
        remaining = floor(left / 1000000)
        reset = (cap - left) / perUs
        if cost > 0 then kind, x1, x2 = 1, digits[left] .. ' ' .. digits[now], digits[ceil(reset / 1000) + 1] end
      else
        rc, remaining = -1, floor(tokens / 1000000)
        retry, reset = (need - tokens) / perUs, (cap - tokens) / perUs
      end
    elseif alg == 2 then
      -- GCRA: theoretical arrival time; emission interval win / limit, tolerance burst intervals
      local interval = win / limit
      local tat
      if ns == 0 then tat = redis.call('GET', sk) else tat = readState(sk) end
      tat = tonumber(tat or 0)
      if tat < now then tat = now end
      local nextTat = tat + cost * interval
      local horizon = now + burst * interval
      if cost > burst then
        rc, retry = -3, -1
      elseif nextTat <= horizon then
        remaining = floor((horizon - nextTat) / interval)
        reset = nextTat - now
        if cost > 0 then kind, x1, x2 = 1, digits[ceil(nextTat)], digits[ceil(reset / 1000) + 1] end
      else
        rc, remaining = -1, floor(math.max(0, horizon - tat) / interval)
        retry, reset = nextTat - horizon, tat - now
      end
    elseif alg == 4 then
      -- sliding window counter (approximate): a hash field per window index; the previous
      -- window's count is weighted by how much of it the sliding window still overlaps
      local idx = floor(now / win)
      local field = digits[idx]
      local v = redis.call('HMGET', sk, field, digits[idx - 1])
      local cur, prev = tonumber(v[1] or 0), tonumber(v[2] or 0)
      local into = now - idx * win
      local estimate = prev * (win - into) / win + cur
      reset = (idx + 2) * win - now
      if cost > limit then
        rc, retry = -3, -1
      elseif estimate + cost <= limit then
        remaining = floor(limit - estimate - cost)
        if cost > 0 then
          kind, x1, x2, x3, x4 = 2, field, digits[cost], ceil((idx + 2) * win / 1000) + 1, digits[idx - 2]
        end
      else
        rc, remaining = -1, math.max(0, floor(limit - estimate))
        if cur + cost <= limit then
          -- the previous window's weight must fall to (limit - cur - cost) / prev
          retry = ceil((1 - (limit - cur - cost) / prev) * win) - into
        else
          -- in the next window this window's count is the weighted one (cur > 0 here)
          retry = (idx + 1) * win - now + math.max(0, ceil((1 - (limit - cost) / cur) * win))
        end
        if retry < 1 then retry = 1 end
      end
    elseif alg == 3 then
      -- sliding window log (exact): one zset entry per admission (member seq:cost), total in ak
      local old = redis.call('ZRANGEBYSCORE', sk, '-inf', now - win, 'LIMIT', 0, 1000)
      local total = tonumber(redis.call('HGET', ak, 't') or 0)
      if #old > 0 then
        local gone = 0
        for j = 1, #old do gone = gone + tonumber(string.match(old[j], ':(%d+)$')) end
        redis.call('ZREMRANGEBYRANK', sk, 0, #old - 1)
        total = math.max(0, total - gone)
        redis.call('HSET', ak, 't', total)
      end
      if cost > limit then
        rc, retry = -3, -1
      elseif total + cost <= limit then
        remaining = limit - total - cost
        local newest = now
        if cost == 0 then
          local last = redis.call('ZRANGE', sk, -1, -1, 'WITHSCORES')
          newest = tonumber(last[2] or 0)
        end
        reset = newest + win - now
        if cost > 0 then kind, x1, x2, x3 = 3, win, cost, total + cost end
      else
        rc, remaining = -1, math.max(0, limit - total)
        local need, freed = total + cost - limit, 0
        local entries = redis.call('ZRANGE', sk, 0, 999, 'WITHSCORES')
        retry = win
        for j = 1, #entries, 2 do
          freed = freed + tonumber(string.match(entries[j], ':(%d+)$'))
          if freed >= need then
            retry = tonumber(entries[j + 1]) + win - now
            break
          end
        end
        local last = redis.call('ZRANGE', sk, -1, -1, 'WITHSCORES')
        reset = tonumber(last[2] or now) + win - now
      end
    else
      -- concurrency: leases in a zset (id -> expiry µs), their costs and total in ak
      local old = redis.call('ZRANGEBYSCORE', sk, '-inf', now, 'LIMIT', 0, 100)
      local total = tonumber(redis.call('HGET', ak, 't') or 0)
      if #old > 0 then
        local gone = 0
        for j = 1, #old do
          gone = gone + tonumber(redis.call('HGET', ak, old[j]) or 0)
          redis.call('HDEL', ak, old[j])
        end
        redis.call('ZREMRANGEBYRANK', sk, 0, #old - 1)
        total = math.max(0, total - gone)
        redis.call('HSET', ak, 't', total)
      end
      if cost > limit then
        rc, retry = -3, -1
      elseif total + cost <= limit then
        remaining = limit - total - cost
        if cost > 0 then kind, x1, x2, x3, x4 = 6, win, cost, total + cost, extra end
      else
        rc, remaining = -1, math.max(0, limit - total)
        local first = redis.call('ZRANGE', sk, 0, 0, 'WITHSCORES')
        retry = tonumber(first[2] or (now + win)) - now
      end
      reset = retry
    end
    if rc < 0 then
      admitted = false
      if rc == -1 and pk then
        -- a violation: count it within the violation window; enough of them block the key
        local v = redis.call('HMGET', pk, 'v', 've')
        local count, vend = tonumber(v[1] or 0), tonumber(v[2] or 0)
        if vend <= now then count, vend = 0, now + within * 1000 end
        count = count + 1
        if count >= after then
          local b = now + block * 1000
          redis.call('HSET', pk, 'v', 0, 've', 0, 'b', string.format('%.0f', b))
          redis.call('PEXPIRE', pk, ceil((b - now) / 1000) + 1)
          rc, retry, reset = -2, b - now, b - now
        else
          redis.call('HSET', pk, 'v', count, 've', string.format('%.0f', vend))
          redis.call('PEXPIRE', pk, ceil((vend - now) / 1000) + 1)
        end
      end
    elseif kind then
      if n == 1 then
        commit(kind, sk, ak, x1, x2, x3, x4)
      else
        pending = pending or {}
        pending[#pending + 1] = { kind, sk, ak or false, x1, x2, x3 or false, x4 or false }
      end
    end
    out[o] = rc
    out[o + 1] = remaining > 0 and remaining or 0
    out[o + 2] = reset > 0 and ceil(reset / 1000) or 0
    if retry < 0 then out[o + 3] = -1 elseif retry > 0 then out[o + 3] = ceil(retry / 1000) else out[o + 3] = 0 end
    o = o + 4
  end

  if not admitted and undo then
    for j = 1, #undo do
      local u = undo[j]
      redis.call('HINCRBY', u[1], u[2], -u[3])
    end
  end
  if admitted and pending then
    for j = 1, #pending do
      local p = pending[j]
      commit(p[1], p[2], p[3], p[4], p[5], p[6], p[7])
    end
  end
end
for i = 1, ns do redis.call('SET', sKeys[i], sVals[i], 'PX', sTtls[i]) end
return out
