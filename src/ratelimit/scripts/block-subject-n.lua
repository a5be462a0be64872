--[[ Block (or unblock) a subject on rules with a penalty: each penalty hash gets the time
  (server clock) until which its rule refuses every request. Every key shares one hash tag.
  KEYS[1] the first rule's penalty hash
  ARGV[1] block duration (ms); 0 lifts a block
  Returns the block's end (server time, ms since the epoch), or 0 when a block was lifted ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ms = tonumber(ARGV[1])
if ms <= 0 then
  for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
  return 0
end
local b = now + ms * 1000
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'v', 0, 've', 0, 'b', string.format('%.0f', b))
  redis.call('PEXPIRE', KEYS[i], ms + 1)
end
return math.floor(b / 1000)
