--[[ Announce one instance of a rate limiter and count the instances seen recently (server
  time), so each can take its share of the limits while Redis is down.
  KEYS[1] the limiter's instance zset (member: instance id, score: last announcement in ms)
  ARGV[1] instance id
  ARGV[2] how long an instance counts after its last announcement (ms)
  Returns the number of live instances, this one included ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - keep)
redis.call('PEXPIRE', KEYS[1], keep * 2)
return redis.call('ZCARD', KEYS[1])
