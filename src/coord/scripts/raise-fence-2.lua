--[[ Raise a resource's fence to a token agreed over several servers (Redlock), if the owner
  still holds the resource here, so that every later grant on this server gets a larger token.
  KEYS[1] exclusive holder (string "token owner")      KEYS[2] fence (the last token granted)
  ARGV[1] owner      ARGV[2] the agreed token      ARGV[3] fence retention ms
  Returns 1   the fence is at least the token now
        | 0   the owner does not hold the resource here (expired, released or taken over) ]]
local v = redis.call('GET', KEYS[1])
if not v or string.match(v, '^%d+ (.+)$') ~= ARGV[1] then
  return 0
end
local last = redis.call('GET', KEYS[2])
if not last or tonumber(last) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return 1
