--[[ Check-and-set of a versioned value: write (or delete) it only if its version is the one the
  caller read. Versions count writes from 1; 0 means "no value".
  KEYS[1] the value (hash v = value, n = version)
  ARGV[1] op (set | delete)      ARGV[2] expected version (-1: any, 0: must not exist)
  ARGV[3] value (set)      ARGV[4] ttl ms (0: keep none)
  Returns { 1, new version (0 after a delete) }   swapped
        | { -1, current version }                 conflict: the version moved on ]]
local current = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local expected = tonumber(ARGV[2])
if expected >= 0 and current ~= expected then
  return { -1, current }
end
if ARGV[1] == 'delete' then
  redis.call('DEL', KEYS[1])
  return { 1, 0 }
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'n', current + 1)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return { 1, current + 1 }
