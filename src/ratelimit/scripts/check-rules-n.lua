--[[ Check every rate-limit rule of one request and, only when all of them admit it, charge
  them all (all-or-nothing: a request refused by one rule consumes nothing from the others).
  Time is the server's (TIME, microseconds). The call passes a variable number of keys, all
  sharing one hash tag: per rule its state key, then an extra hash for the sliding window log
  and concurrency algorithms, then a penalty hash when the rule has a penalty.
  KEYS[1] the first rule's state key
  ARGV[1] number of rules n
  ARGV[2] lease id (concurrency rules), or ''
  then 8 per rule: algorithm (1 token bucket, 2 GCRA, 3 sliding window log, 4 sliding window
  counter, 5 fixed window, 6 concurrency), limit, window or lease ttl (ms), burst, cost,
  violations before a block (0: no penalty), violation window (ms), block (ms)
  Returns { now (µs), admitted 1 | 0, then per rule: code, remaining, reset (ms), retry after (ms) }
  with code 1 admitted | -1 limited | -2 blocked | -3 the cost exceeds what the rule can ever admit ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local lease = ARGV[2]
local out = { now, 1 }
local commits = {}
local k = 1
local admitted = true
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min

local function ms(us)
  if us <= 0 then return 0 end
  return ceil(us / 1000)
end

for i = 1, n do
  local a = 3 + (i - 1) * 8
  local alg = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local win = tonumber(ARGV[a + 2]) * 1000
  local burst = tonumber(ARGV[a + 3])
  local cost = tonumber(ARGV[a + 4])
  local after = tonumber(ARGV[a + 5])
  local sk = KEYS[k]
  k = k + 1
  local ak, pk
  if alg == 3 or alg == 6 then
    ak = KEYS[k]
    k = k + 1
  end
  if after > 0 then
    pk = KEYS[k]
    k = k + 1
  end
  local code, remaining, reset, retry = 1, 0, 0, 0
  local commit = nil
  local blocked = 0
  if pk then
    local b = redis.call('HGET', pk, 'b')
    if b then blocked = tonumber(b) end
  end
  if blocked > now then
    code, retry, reset = -2, blocked - now, blocked - now
  elseif alg == 1 then
    -- token bucket: capacity burst, refilled continuously at limit per window; micro-tokens.
    local cap = burst * 1000000
    local tokens, ts = cap, now
    local s = redis.call('GET', sk)
    if s then
      local v, w = string.match(s, '^(%d+) (%d+)$')
      tokens, ts = tonumber(v), tonumber(w)
      if now > ts then tokens = min(cap, tokens + floor((now - ts) * limit * 1000000 / win)) end
    end
    local need = cost * 1000000
    local perUs = limit * 1000000 / win
    if cost > burst then
      code, retry = -3, -1
    elseif tokens >= need then
      local left = tokens - need
      remaining = floor(left / 1000000)
      reset = (cap - left) / perUs
      if cost > 0 then commit = { 'SET', sk, string.format('%.0f %.0f', left, now), 'PX', ms(reset) + 1 } end
    else
      code, remaining = -1, floor(tokens / 1000000)
      retry = (need - tokens) / perUs
      reset = (cap - tokens) / perUs
    end
  elseif alg == 2 then
    -- GCRA: theoretical arrival time; emission interval win / limit, tolerance burst intervals.
    local interval = win / limit
    local tat = tonumber(redis.call('GET', sk) or 0)
    if tat < now then tat = now end
    local nextTat = tat + cost * interval
    local horizon = now + burst * interval
    if cost > burst then
      code, retry = -3, -1
    elseif nextTat <= horizon then
      remaining = floor((horizon - nextTat) / interval)
      reset = nextTat - now
      if cost > 0 then commit = { 'SET', sk, string.format('%.0f', ceil(nextTat)), 'PX', ms(reset) + 1 } end
    else
      code, remaining = -1, floor(max(0, horizon - tat) / interval)
      retry, reset = nextTat - horizon, tat - now
    end
  elseif alg == 3 then
    -- sliding window log (exact): one zset entry per admission, member seq:cost, total in ak.
    local old = redis.call('ZRANGEBYSCORE', sk, '-inf', now - win, 'LIMIT', 0, 1000)
    local total = tonumber(redis.call('HGET', ak, 't') or 0)
    if #old > 0 then
      local gone = 0
      for j = 1, #old do gone = gone + tonumber(string.match(old[j], ':(%d+)$')) end
      redis.call('ZREMRANGEBYRANK', sk, 0, #old - 1)
      total = max(0, total - gone)
      redis.call('HSET', ak, 't', total)
    end
    if cost > limit then
      code, retry = -3, -1
    elseif total + cost <= limit then
      remaining = limit - total - cost
      local newest = now
      if cost == 0 then
        local last = redis.call('ZRANGE', sk, -1, -1, 'WITHSCORES')
        newest = tonumber(last[2] or 0)
      end
      reset = newest + win - now
      if cost > 0 then commit = { 3, sk, ak, total + cost, cost } end
    else
      code, remaining = -1, max(0, limit - total)
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
  elseif alg == 4 then
    -- sliding window counter (approximate): this window's count plus the previous one's, weighted.
    local idx = floor(now / win)
    local cur, prev = 0, 0
    local s = redis.call('GET', sk)
    if s then
      local w, c, p = string.match(s, '^(%d+) (%d+) (%d+)$')
      w, c, p = tonumber(w), tonumber(c), tonumber(p)
      if w == idx then cur, prev = c, p elseif w == idx - 1 then prev = c end
    end
    local into = now - idx * win
    local estimate = prev * (win - into) / win + cur
    if cost > limit then
      code, retry = -3, -1
    elseif estimate + cost <= limit then
      remaining = floor(limit - estimate - cost)
      reset = (idx + 2) * win - now
      if cost > 0 then
        commit = { 'SET', sk, string.format('%.0f %d %d', idx, cur + cost, prev), 'PX', ms(reset) + 1 }
      end
    else
      code, remaining = -1, max(0, floor(limit - estimate))
      reset = (idx + 2) * win - now
      if cur + cost <= limit then
        -- the previous window's weight must fall to (limit - cur - cost) / prev
        retry = ceil((1 - (limit - cur - cost) / prev) * win) - into
      else
        -- in the next window this window's count is the weighted one (cur > 0 here)
        retry = (idx + 1) * win - now + max(0, ceil((1 - (limit - cost) / cur) * win))
      end
      if retry < 1 then retry = 1 end
    end
  elseif alg == 5 then
    -- fixed window aligned on the server clock.
    local idx = floor(now / win)
    local count = 0
    local s = redis.call('GET', sk)
    if s then
      local w, c = string.match(s, '^(%d+) (%d+)$')
      if tonumber(w) == idx then count = tonumber(c) end
    end
    reset = (idx + 1) * win - now
    if cost > limit then
      code, retry = -3, -1
    elseif count + cost <= limit then
      remaining = limit - count - cost
      if cost > 0 then commit = { 'SET', sk, string.format('%.0f %d', idx, count + cost), 'PX', ms(reset) + 1 } end
    else
      code, remaining, retry = -1, limit - count, reset
    end
  else
    -- concurrency: leases in a zset (id -> expiry µs), their costs and total in ak.
    local old = redis.call('ZRANGEBYSCORE', sk, '-inf', now, 'LIMIT', 0, 100)
    local total = tonumber(redis.call('HGET', ak, 't') or 0)
    if #old > 0 then
      local gone = 0
      for j = 1, #old do
        gone = gone + tonumber(redis.call('HGET', ak, old[j]) or 0)
        redis.call('HDEL', ak, old[j])
      end
      redis.call('ZREMRANGEBYRANK', sk, 0, #old - 1)
      total = max(0, total - gone)
      redis.call('HSET', ak, 't', total)
    end
    if cost > limit then
      code, retry = -3, -1
    elseif total + cost <= limit then
      remaining = limit - total - cost
      if cost > 0 then commit = { 6, sk, ak, total + cost, cost } end
    else
      code, remaining = -1, max(0, limit - total)
      local first = redis.call('ZRANGE', sk, 0, 0, 'WITHSCORES')
      retry = tonumber(first[2] or (now + win)) - now
    end
    reset = retry
  end
  if code < 0 then
    admitted = false
    if code == -1 and pk then
      -- a violation: count it within the violation window; enough of them block the key.
      local v = redis.call('HMGET', pk, 'v', 've')
      local count, vend = tonumber(v[1] or 0), tonumber(v[2] or 0)
      if vend <= now then count, vend = 0, now + tonumber(ARGV[a + 6]) * 1000 end
      count = count + 1
      if count >= after then
        local b = now + tonumber(ARGV[a + 7]) * 1000
        redis.call('HSET', pk, 'v', 0, 've', 0, 'b', string.format('%.0f', b))
        redis.call('PEXPIRE', pk, ms(b - now) + 1)
        code, retry, reset = -2, b - now, b - now
      else
        redis.call('HSET', pk, 'v', count, 've', string.format('%.0f', vend))
        redis.call('PEXPIRE', pk, ms(vend - now) + 1)
      end
    end
  end
  commits[i] = commit
  local o = 3 + (i - 1) * 4
  out[o] = code
  out[o + 1] = max(0, remaining)
  out[o + 2] = ms(reset)
  if retry < 0 then out[o + 3] = -1 else out[o + 3] = ms(retry) end
end

if not admitted then
  out[2] = 0
  return out
end
for i = 1, n do
  local c = commits[i]
  if c then
    if c[1] == 3 then
      local win = tonumber(ARGV[3 + (i - 1) * 8 + 2])
      local seq = redis.call('HINCRBY', c[3], 's', 1)
      redis.call('ZADD', c[2], now, seq .. ':' .. c[5])
      redis.call('HSET', c[3], 't', c[4])
      redis.call('PEXPIRE', c[2], win + 1)
      redis.call('PEXPIRE', c[3], win + 1)
    elseif c[1] == 6 then
      local ttl = tonumber(ARGV[3 + (i - 1) * 8 + 2])
      redis.call('ZADD', c[2], now + ttl * 1000, lease)
      redis.call('HSET', c[3], lease, c[5], 't', c[4])
      local last = redis.call('ZRANGE', c[2], -1, -1, 'WITHSCORES')
      local keep = ms(tonumber(last[2]) - now) + 1
      redis.call('PEXPIRE', c[2], keep)
      redis.call('PEXPIRE', c[3], keep)
    else
      redis.call(c[1], c[2], c[3], c[4], c[5])
    end
  end
end
return out
