--[[ List a user's live sessions and quarantined records after trimming the expired entries of
  both indexes (a bounded number per call).
  KEYS[1] the user's index (sorted set: handle -> expiry in server ms)
  KEYS[2] the tag's quarantine index (sorted set: handle -> expiry in server ms)
  ARGV[1] most expired entries trimmed per index
  Returns { now, number of live entries n, handle, expiry, ... (n pairs), quarantined handle, ... } ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
for k = 1, 2 do
  local dead = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', now, 'LIMIT', 0, limit)
  if #dead > 0 then
    redis.call('ZREM', KEYS[k], unpack(dead))
  end
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = { now, #live / 2 }
for j = 1, #live do
  out[2 + j] = live[j]
end
local quarantined = redis.call('ZRANGE', KEYS[2], 0, -1)
for j = 1, #quarantined do
  out[#out + 1] = quarantined[j]
end
return out
