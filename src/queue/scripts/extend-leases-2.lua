--[[ Extend the leases of a worker's running jobs.
  KEYS[1] active (sorted set id -> lease deadline ms)
  KEYS[2] events (stream; unused, keeps the queue's keys together)
  ARGV[1] job key prefix   ARGV[2] lease ms   then pairs: id, token
  Returns { now, ids whose lease is lost (reaped, settled or taken by another worker)... } ]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local jp, deadline = ARGV[1], string.format('%.0f', now + tonumber(ARGV[2]))
local out = { now }
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local cur = redis.call('HMGET', jp .. id, 'k', 's')
  if cur[1] == token and cur[2] == 'a' then
    redis.call('ZADD', KEYS[1], 'XX', deadline, id)
  else
    out[#out + 1] = id
  end
end
return out
