--[[ Store the result of a getOrSet load unless it was overtaken, and announce the outcome on
  the namespace's channel in the same step (so a waiter woken by it finds the value).
  The call passes a variable number of keys: the value key, the lease key, then for each of the
  n tags its set (KEYS[3..2+n]) and its last-invalidation time (KEYS[3+n..2+2n]); every key
  shares the namespace's hash tag, so the script runs unchanged on a Cluster.
  KEYS[1] value key      KEYS[2] lease key
  ARGV[1] framed value   ARGV[2] time to live in ms (fresh + stale window, > 0)
  ARGV[3] lease token ('0': the load holds no lease)
  ARGV[4] when the load began, server µs from begin-load ('0': no tag to check)
  ARGV[5] n, the number of tags
  ARGV[6] the namespace's channel
  ARGV[7] message announcing the write    ARGV[8] message announcing a release without a value
  ARGV[9] how long tag invalidation times are kept, in ms: a load that began longer ago than
          that cannot be checked and is refused
  Returns 1 stored
        | -1 a tag was invalidated after the load began (or the load is too old to check): not
             stored, lease released
        | -2 the load's lease is not held with its token any more (it expired, and maybe another
             loader took it): not stored ]]
local token = ARGV[3]
local ours = false
if token ~= '0' then
  if redis.call('GET', KEYS[2]) ~= token then
    return -2
  end
  ours = true
end
local n = tonumber(ARGV[5])
local began = tonumber(ARGV[4])
if began > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local stale = now - began > tonumber(ARGV[9]) * 1000
  for i = 3 + n, 2 + 2 * n do
    local at = redis.call('GET', KEYS[i])
    if stale or (at and tonumber(at) >= began) then
      if ours then
        redis.call('DEL', KEYS[2])
        redis.call('PUBLISH', ARGV[6], ARGV[8])
      end
      return -1
    end
  end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 3, 2 + n do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
if ours then
  redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
