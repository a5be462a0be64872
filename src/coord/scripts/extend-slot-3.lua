--[[ Extend an owner's hold on a lock, semaphore permit or read/write slot to a fresh TTL, if it
  still holds it.
  KEYS[1] exclusive holder (string "token owner"; expires with the grant)
  KEYS[2] shared holders (sorted set owner -> expiry, server ms)
  KEYS[3] shared holders' tokens (hash owner -> token)
  ARGV[1] owner      ARGV[2] mode (x or s)      ARGV[3] ttl ms
  Returns { 1, now ms }    extended
        | { -1, now ms }   the owner does not hold it any more (expired, released or taken over) ]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local owner, mode, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if mode == 'x' then
  local v = redis.call('GET', KEYS[1])
  if not v or string.match(v, '^%d+ (.+)$') ~= owner then
    return { -1, now }
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
  return { 1, now }
end
local score = redis.call('ZSCORE', KEYS[2], owner)
if not score or tonumber(score) <= now then
  return { -1, now }
end
redis.call('ZADD', KEYS[2], string.format('%.0f', now + ttl), owner)
for i = 2, 3 do
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return { 1, now }
