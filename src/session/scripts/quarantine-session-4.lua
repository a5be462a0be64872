--[[ Move a record that cannot be trusted (undecodable, tampered with, bound to another ID) out
  of the way: renamed to a quarantine key kept for inspection, listed in the tag's quarantine
  index (so erasing a user finds it), and its handle removed from the user's index, so the
  session reads as gone everywhere.
  KEYS[1] session record
  KEYS[2] quarantine key for this record
  KEYS[3] the user's index (sorted set: handle -> expiry in server ms)
  KEYS[4] the tag's quarantine index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle
  ARGV[2] how long the quarantined record is kept, in ms
  ARGV[3] most expired quarantine index entries trimmed
  Returns 1 quarantined | 0 the record was already gone ]]
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PEXPIRE', KEYS[2], ttl)
local dead = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
if #dead > 0 then
  redis.call('ZREM', KEYS[4], unpack(dead))
end
redis.call('ZADD', KEYS[4], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[4]) < ttl then
  redis.call('PEXPIRE', KEYS[4], ttl)
end
return 1
