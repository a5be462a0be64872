--[[ Settle an LLM call's reservation with its actual usage on every budget it holds: the
  estimate leaves the reserved amount and the actual cost is charged (a refund when it cost
  less, the difference when more). A reservation already settled, cancelled or expired is not
  charged again. Per budget the ledger hash, then its pending zset; one hash tag.
  KEYS[1] the first budget's ledger hash
  ARGV[1] number of budgets n
  ARGV[2] reservation id
  then 3 per budget: period (ms, or 0 for a calendar month), actual cost in micro-dollars, actual tokens
  Returns { now (ms), then per budget: code, spent µ$, reserved µ$, spent tokens, reserved tokens,
  estimate µ$ } with code 1 settled | -1 not held (settled before, cancelled or expired) ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local id = ARGV[2]
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

local out = { now }
for i = 1, n do
  local a = 3 + (i - 1) * 3
  local len = tonumber(ARGV[a])
  local cost, tokens = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local bk, qk = KEYS[2 * i - 1], KEYS[2 * i]
  local p, ends = period(now, len)
  local v = redis.call('HMGET', bk, 'p', 's', 'r', 'st', 'rt', 'r:' .. id)
  local s, r, st, rt = tonumber(v[2] or 0), tonumber(v[3] or 0), tonumber(v[4] or 0), tonumber(v[5] or 0)
  if tonumber(v[1] or p) ~= p then s, r, st, rt = 0, 0, 0, 0 end
  local code, estimate = -1, 0
  if v[6] then
    local hp, hc, ht = string.match(v[6], '^(%d+) (%d+) (%d+)$')
    hp, hc, ht = tonumber(hp), tonumber(hc), tonumber(ht)
    if hp == p then r, rt = math.max(0, r - hc), math.max(0, rt - ht) end
    s, st = s + cost, st + tokens
    code, estimate = 1, hc
    redis.call('HDEL', bk, 'r:' .. id)
    redis.call('ZREM', qk, id)
    redis.call('HSET', bk, 'p', p, 's', s, 'r', r, 'st', st, 'rt', rt)
    redis.call('PEXPIRE', bk, math.max(redis.call('PTTL', bk), ends - now + 1000))
  end
  local o = 2 + (i - 1) * 6
  out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = code, s, r, st, rt, estimate
end
return out
