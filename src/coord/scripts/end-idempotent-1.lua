--[[ End an idempotent operation run by its lease owner: store its result (op "done"), give the
  lease back after a failure so a repeat runs it again (op "abandon"), or extend the lease
  while it runs (op "renew"). Waiters are told on the channel ("d").
  KEYS[1] the operation (hash s = running | done, o = owner, r = result)
  ARGV[1] owner      ARGV[2] op (done | abandon | renew)      ARGV[3] result (done)
  ARGV[4] ttl ms: of the result (done) or the lease (renew)      ARGV[5] the channel (same hash tag)
  Returns 1 done | -1 the caller's lease was lost (another caller may be running it) ]]
if redis.call('HGET', KEYS[1], 's') ~= 'running' or redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then
  return -1
end
local op = ARGV[2]
if op == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
if op == 'done' then
  redis.call('HSET', KEYS[1], 's', 'done', 'r', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
redis.call('SPUBLISH', ARGV[5], 'd')
return 1
