--[[ Delete every entry of an agent-context scope. The version counter stays (the clear takes its
  next version), so a version is never reused and a stale copy elsewhere is always older.
  With a ttl the counter expires with the scope; a scope written again after it expired starts
  its counter from the server clock (microseconds), above every version of its earlier life, so
  a version is never reused.
  KEYS[1] scope version counter
  KEYS[2] scope meta hash
  KEYS[3] scope data hash
  ARGV[1] ms to live of the counter (0: no expiry set)
  Returns { entries deleted, version of the clear } ]]
local count = tonumber(redis.call('HGET', KEYS[2], '#') or '0')
redis.call('UNLINK', KEYS[2], KEYS[3])
local ttl = tonumber(ARGV[1])
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local version = redis.call('INCR', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return { count, version }
