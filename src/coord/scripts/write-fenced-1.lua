--[[ Store a value only if its fencing token is at least the highest token the key has seen, so a
  holder whose lock ran out (paused, partitioned) cannot overwrite what a newer holder wrote.
  KEYS[1] the guarded value (hash v = value, t = highest token seen)
  ARGV[1] the writer's fencing token      ARGV[2] the value      ARGV[3] ttl ms (0: keep)
  Returns { 1, token }                  stored
        | { -1, highest token seen }    refused: the token is older ]]
local token = tonumber(ARGV[1])
local last = redis.call('HGET', KEYS[1], 't')
if last and token < tonumber(last) then
  return { -1, tonumber(last) }
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 't', ARGV[1])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return { 1, token }
