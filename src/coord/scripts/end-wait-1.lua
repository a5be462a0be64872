--[[ Remove an agent's wait from the wait-for graph, if it is still that waiter's.
  KEYS[1] waits (hash agent -> "lock<TAB>owner<TAB>since ms<TAB>deadline ms")
  ARGV[1] agent      ARGV[2] the waiting owner
  Returns 1 removed | 0 the agent waits for something else now (or nothing) ]]
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry and string.match(entry, '^.*\t([^\t]*)\t%d+\t%d+$') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
