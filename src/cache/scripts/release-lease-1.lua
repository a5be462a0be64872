--[[ Give up a getOrSet lease without a value (the loader failed, timed out or found nothing
  to cache), and wake the instances waiting for it so that one of them can load.
  KEYS[1] lease key
  ARGV[1] lease token    ARGV[2] the namespace's channel    ARGV[3] message announcing the release
  Returns 1 released | 0 the lease was not ours any more ]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
