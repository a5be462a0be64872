--[[ Store a running job's progress, if the caller still holds its lease.
  KEYS[1] meta (hash; unused, keeps the queue's keys together)
  KEYS[2] events (stream)
  ARGV[1] job key prefix   ARGV[2] id   ARGV[3] token   ARGV[4] progress (JSON)   ARGV[5] events max length
  Returns 1 stored | 0 the lease is lost ]]
local J = ARGV[1] .. ARGV[2]
local cur = redis.call('HMGET', J, 'k', 's')
if cur[1] ~= ARGV[3] or cur[2] ~= 'a' then return 0 end
redis.call('HSET', J, 'p', ARGV[4])
if tonumber(ARGV[5]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', 'progress', 'i', ARGV[2], 'p', ARGV[4])
end
return 1
