--[[ Read a whole agent-context scope at one point in time: both hashes, parsed by the caller.
  KEYS[1] scope version counter
  KEYS[2] scope meta hash
  KEYS[3] scope data hash
  Returns { scope version, ms to live of the scope (-1 none), meta fields and values (flat), data fields and values (flat) } ]]
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
return { seq, redis.call('PTTL', KEYS[2]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
