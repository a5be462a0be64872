--[[ Store several cache values of one namespace in one step, each with its own time to live
  and tags. The call passes a variable number of keys: the m value keys (KEYS[1..m]), then the
  tag sets they use (each once); every key shares the namespace's hash tag.
  KEYS[1] first value key
  ARGV[1] m, the number of values
  then per value: framed value, time to live in ms (> 0), number of tags k, then k indexes into KEYS
  Returns m ]]
local m = tonumber(ARGV[1])
local a = 2
for i = 1, m do
  local ttl = tonumber(ARGV[a + 1])
  redis.call('SET', KEYS[i], ARGV[a], 'PX', ttl)
  local k = tonumber(ARGV[a + 2])
  for j = 1, k do
    local set = KEYS[tonumber(ARGV[a + 2 + j])]
    redis.call('SADD', set, KEYS[i])
    if redis.call('PTTL', set) < ttl then
      redis.call('PEXPIRE', set, ttl)
    end
  end
  a = a + 3 + k
end
return m
