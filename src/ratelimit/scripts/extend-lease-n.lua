--[[ Extend a concurrency lease that is still held: its expiry becomes now (server time) plus
  the given time to live, on every concurrency rule it was granted on. Two keys per rule (the
  lease zset, then its cost hash), all sharing one hash tag.
  KEYS[1] the first rule's lease zset
  ARGV[1] lease id
  ARGV[2] time to live from now (ms)
  Returns the number of rules the lease was extended on (0: it had expired or was released) ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local expiry = now + tonumber(ARGV[2]) * 1000
local extended = 0
for i = 1, #KEYS, 2 do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[i], 'XX', expiry, ARGV[1])
    local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    local keep = math.ceil((tonumber(last[2]) - now) / 1000) + 1
    redis.call('PEXPIRE', KEYS[i], keep)
    redis.call('PEXPIRE', KEYS[i + 1], keep)
    extended = extended + 1
  end
end
return extended
