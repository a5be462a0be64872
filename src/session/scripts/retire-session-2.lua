--[[ First step of regenerate: turn a live session's ID into a read-only alias until the end of
  the overlap window (so requests already in flight with it still read it), and return its
  fields so the caller can write them under the new ID. From now on no write through the old ID
  is accepted. With an overlap of 0 the record is deleted at once (its handle stays listed for
  one more second, for the second step of regenerate).
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle
  ARGV[2] overlap window in ms
  ARGV[3] expected version, or an empty string for any
  Returns { 1, now, version, created, absolute deadline, last seen, rotated until, owned, data }
        | { -5, current version } version mismatch
        | -1 no such session | -2 revoked | -3 expired | -4 already rotated | -6 malformed ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local meta = redis.pcall('HMGET', KEYS[1], 'v', 'a', 'i', 's', 'r', 'o', 'c', 'd')
if type(meta) ~= 'table' or meta.err then
  return -6
end
if not meta[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return -6
  end
  return -1
end
local v, a, i, s, r, o, c =
  tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4]),
  tonumber(meta[5]), tonumber(meta[6]), tonumber(meta[7])
if not (v and a and i and s and r and o and c and meta[8]) then
  return -6
end
local handle = ARGV[1]
if r > 0 then
  return -4
end
if now >= a or now >= s + i then
  redis.call('DEL', KEYS[1])
  if o == 1 then
    redis.call('ZREM', KEYS[2], handle)
  end
  return -3
end
if o == 1 and not redis.call('ZSCORE', KEYS[2], handle) then
  redis.call('DEL', KEYS[1])
  return -2
end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= v then
  return { -5, v }
end
local out = { 1, now, v, c, a, s, r, o, meta[8] }
local overlap = tonumber(ARGV[2])
local untilMs = math.min(now + overlap, a, s + i)
if overlap <= 0 or untilMs <= now then
  redis.call('DEL', KEYS[1])
  if o == 1 then
    -- Listed one more second, so the second step of regenerate can prove no revoke came between.
    redis.call('ZADD', KEYS[2], 'XX', now + 1000, handle)
  end
else
  redis.call('HSET', KEYS[1], 'r', untilMs, 'v', v + 1)
  redis.call('PEXPIREAT', KEYS[1], untilMs + 60000)
  if o == 1 then
    redis.call('ZADD', KEYS[2], 'XX', untilMs, handle)
  end
end
return out
