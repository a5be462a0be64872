--[[ Release a concurrency lease on every concurrency rule it was granted on. The call passes
  two keys per rule (the lease zset, then its cost hash), all sharing one hash tag.
  KEYS[1] the first rule's lease zset
  ARGV[1] lease id
  Returns the number of rules the lease was still held on (0: it had expired or was released) ]]
local released = 0
for i = 1, #KEYS, 2 do
  local cost = redis.call('HGET', KEYS[i + 1], ARGV[1])
  if cost then
    redis.call('HDEL', KEYS[i + 1], ARGV[1])
    redis.call('ZREM', KEYS[i], ARGV[1])
    local left = redis.call('HINCRBY', KEYS[i + 1], 't', -tonumber(cost))
    if left < 0 then redis.call('HSET', KEYS[i + 1], 't', 0) end
    released = released + 1
  end
end
return released
