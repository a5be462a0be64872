--[[ Reserve an estimated cost on every budget of one LLM call, only if all of them have room
  (all-or-nothing), on the server's clock. Per budget the call passes its ledger hash and its
  zset of pending reservations (id -> expiry); every key shares one hash tag. Expired
  reservations found on the way (at most 20 per budget per call) are charged or released.
  KEYS[1] the first budget's ledger hash
  ARGV[1] number of budgets n
  ARGV[2] reservation id ('': only read the budgets)
  ARGV[3] reservation time to live (ms)
  ARGV[4] 1: an expired reservation is charged its estimate, 0: released
  then 5 per budget: period (ms, or 0 for a calendar month), limit in micro-dollars (-1: none),
  limit in tokens (-1: none), estimated cost in micro-dollars, estimated tokens
  Returns { now (ms), reserved 1 | 0, then per budget: code, spent µ$, reserved µ$, spent tokens,
  reserved tokens, reset (ms) } with code 1 fits | -1 over the money limit | -2 over the token limit ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local id = ARGV[2]
local ttl = tonumber(ARGV[3])
local chargeExpired = ARGV[4] == '1'
local floor = math.floor

local function daysFromCivil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- the period index of `ms`, and when the period ends (ms)
local function period(ms, len)
  if len > 0 then
    local p = floor(ms / len)
    return p, (p + 1) * len
  end
  local z = floor(ms / 86400000) + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  return y * 12 + m - 1, daysFromCivil(ny, nm, 1) * 86400000
end

local out = { now, 1 }
local ledgers = {}
for i = 1, n do
  local a = 5 + (i - 1) * 5
  local len = tonumber(ARGV[a])
  local limitUsd, limitTok = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local cost, tokens = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local bk, qk = KEYS[2 * i - 1], KEYS[2 * i]
  local p, ends = period(now, len)
  local v = redis.call('HMGET', bk, 'p', 's', 'r', 'st', 'rt')
  local s, r, st, rt = tonumber(v[2] or 0), tonumber(v[3] or 0), tonumber(v[4] or 0), tonumber(v[5] or 0)
  if tonumber(v[1] or p) ~= p then s, r, st, rt = 0, 0, 0, 0 end
  local expired = redis.call('ZRANGEBYSCORE', qk, '-inf', now, 'LIMIT', 0, 20)
  for j = 1, #expired do
    local f = 'r:' .. expired[j]
    local held = redis.call('HGET', bk, f)
    if held then
      local hp, hc, ht = string.match(held, '^(%d+) (%d+) (%d+)$')
      hp, hc, ht = tonumber(hp), tonumber(hc), tonumber(ht)
      if hp == p then
        r, rt = math.max(0, r - hc), math.max(0, rt - ht)
        if chargeExpired then s, st = s + hc, st + ht end
      end
      redis.call('HDEL', bk, f)
    end
    redis.call('ZREM', qk, expired[j])
  end
  local code = 1
  if limitUsd >= 0 and s + r + cost > limitUsd then code = -1
  elseif limitTok >= 0 and st + rt + tokens > limitTok then code = -2 end
  if code < 0 then out[2] = 0 end
  ledgers[i] = { bk, qk, p, ends, s, r, st, rt, cost, tokens }
  local o = 3 + (i - 1) * 6
  out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = code, s, r, st, rt, ends - now
end
for i = 1, n do
  local l = ledgers[i]
  local bk, qk, p, ends = l[1], l[2], l[3], l[4]
  local s, r, st, rt = l[5], l[6], l[7], l[8]
  if out[2] == 1 and id ~= '' then
    r, rt = r + l[9], rt + l[10]
    redis.call('HSET', bk, 'r:' .. id, string.format('%d %d %d', p, l[9], l[10]))
    redis.call('ZADD', qk, now + ttl, id)
    local o = 3 + (i - 1) * 6
    out[o + 2], out[o + 4] = r, rt
  end
  redis.call('HSET', bk, 'p', p, 's', s, 'r', r, 'st', st, 'rt', rt)
  local keep = math.max(ends - now, ttl) + ttl + 1000
  redis.call('PEXPIRE', bk, keep)
  redis.call('PEXPIRE', qk, keep)
end
return out
