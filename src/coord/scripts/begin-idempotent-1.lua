--[[ Begin an idempotent operation: answer with the stored result if it ran, tell the caller to
  wait if another caller is running it (its lease is alive), or give the caller the lease.
  KEYS[1] the operation (hash s = running | done, o = owner, r = result; expires with the lease, then with the result)
  ARGV[1] owner      ARGV[2] lease ms
  Returns { 2, result }     done: here is the stored result
        | { 3, ms left }    running elsewhere: wait (a message on the channel, or the lease's end)
        | { 1 }             the caller runs it (holds the lease) ]]
local state = redis.call('HGET', KEYS[1], 's')
if state == 'done' then
  return { 2, redis.call('HGET', KEYS[1], 'r') }
end
if state == 'running' then
  local owner = redis.call('HGET', KEYS[1], 'o')
  if owner ~= ARGV[1] then
    return { 3, redis.call('PTTL', KEYS[1]) }
  end
end
redis.call('HSET', KEYS[1], 's', 'running', 'o', ARGV[1])
redis.call('HDEL', KEYS[1], 'r')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { 1 }
