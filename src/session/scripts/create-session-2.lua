--[[ Create a session record (never over an existing one) and, for a user's session, list it in
  the user's index: expired handles are trimmed, and past the per-user limit the sessions closest
  to expiry by their index scores are logged out (removed from the index; a score is within an
  eighth of the idle timeout after the session's expiry, see touch-session-2.lua). When the session replaces an ID of the
  same user (regenerate), that ID must still be in the index, so a revoke-all that ran between
  the two steps of regenerate is not undone. The key lives 60 s past the session's deadline (a
  late read then reports it expired rather than unknown).
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle
  ARGV[2] idle timeout in ms
  ARGV[3] absolute deadline in server ms, or 0 for now plus the absolute timeout
  ARGV[4] absolute timeout in ms
  ARGV[5] when the session began in server ms, or 0 for now
  ARGV[6] 1 for a user's session (indexed), 0 for an anonymous one
  ARGV[7] most live sessions per user
  ARGV[8] time to live of the index in ms (at least the absolute timeout)
  ARGV[9] most expired index entries trimmed
  ARGV[10] handle of the ID this session replaces, or an empty string
  ARGV[11] the encrypted data
  Returns { 1, now, expires at, sessions logged out by the limit, absolute deadline, created }
        | -2 the replaced ID was revoked meanwhile | -3 the absolute deadline has passed | -7 the record exists ]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -7
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idle = tonumber(ARGV[2])
local a = tonumber(ARGV[3])
if a == 0 then
  a = now + tonumber(ARGV[4])
end
if a <= now then
  return -3
end
local c = tonumber(ARGV[5])
if c == 0 then
  c = now
end
local owned = ARGV[6] == '1'
local handle = ARGV[1]
local previous = ARGV[10]
if owned then
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[9]))
  if #dead > 0 then
    redis.call('ZREM', KEYS[2], unpack(dead))
  end
  if previous ~= '' and not redis.call('ZSCORE', KEYS[2], previous) then
    return -2
  end
end
local expires = math.min(now + idle, a)
redis.call('HSET', KEYS[1], 'v', 1, 'c', c, 'n', now, 'a', a, 'i', idle, 's', now, 'r', 0, 'o', owned and 1 or 0, 'e', expires + 60000, 'd', ARGV[11])
if previous ~= '' then
  redis.call('HSET', KEYS[1], 'p', previous)
end
redis.call('PEXPIREAT', KEYS[1], expires + 60000)
local evicted = 0
if owned then
  local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[7]) + 1
  if over > 0 then
    evicted = #redis.call('ZPOPMIN', KEYS[2], over)
  end
  redis.call('ZADD', KEYS[2], expires, handle)
  local ttl = tonumber(ARGV[8])
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
return { 1, now, expires, evicted, a, c }
