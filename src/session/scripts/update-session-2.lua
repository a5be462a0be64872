--[[ Write a live session's data if it is still at the version the caller read (check-and-set).
  On a version mismatch the current version and data come back, so the caller can apply its
  changes again on top of them (field-level merge: concurrent updates of different fields all
  stay). Never creates a record: a destroyed, revoked, expired or rotated session stays gone.
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle
  ARGV[2] the version the caller read
  ARGV[3] the new encrypted data
  Returns { 1, new version } | { -5, current version, current data } version mismatch
        | -1 no such session | -2 revoked | -3 expired | -4 rotated (read-only) | -6 malformed ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local meta = redis.pcall('HMGET', KEYS[1], 'v', 'a', 'i', 's', 'r', 'o', 'd')
if type(meta) ~= 'table' or meta.err then
  return -6
end
if not meta[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return -6
  end
  return -1
end
local v, a, i, s, r, o =
  tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4]), tonumber(meta[5]), tonumber(meta[6])
if not (v and a and i and s and r and o and meta[7]) then
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
if tonumber(ARGV[2]) ~= v then
  return { -5, v, meta[7] }
end
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'v', v + 1)
return { 1, v + 1 }
