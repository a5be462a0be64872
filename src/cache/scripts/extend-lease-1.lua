--[[ Extend a getOrSet lease while its loader runs, if it is still held with this token.
  KEYS[1] lease key
  ARGV[1] lease token    ARGV[2] new time to live in ms
  Returns 1 extended | 0 not held with this token any more ]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
