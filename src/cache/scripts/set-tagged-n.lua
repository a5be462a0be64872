--[[ Store a cache value and add its key to the set of each of its tags, in one step.
  The call passes a variable number of keys: the value key, then one set per tag (KEYS[2..n]);
  every key shares the namespace's hash tag, so the script runs unchanged on a Cluster.
  A tag set lives at least as long as the longest-lived value it lists.
  KEYS[1] value key
  ARGV[1] framed value bytes
  ARGV[2] time to live in ms (> 0)
  Returns 1 ]]
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
