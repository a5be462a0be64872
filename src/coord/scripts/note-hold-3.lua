--[[ Record in the wait-for graph that an agent holds a lock (op "add"), renew the record's
  expiry ("renew"), or drop it ("drop"). Entries carry an expiry so a crashed agent's records
  stop counting on their own.
  KEYS[1] holds (hash "lock<TAB>owner" -> "agent<TAB>since ms<TAB>mode<TAB>expiry ms")
  KEYS[2] holders of each lock (hash lock -> space-separated "agent<TAB>owner" pairs)
  KEYS[3] hold ages (sorted set "lock<TAB>owner" -> since ms)
  ARGV[1] op (add | renew | drop)      ARGV[2] lock id      ARGV[3] owner      ARGV[4] agent
  ARGV[5] mode (x or s)      ARGV[6] ttl ms (add, renew)      ARGV[7] graph retention ms
  Returns 1 done | -1 renew of a record that is not there ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, lock, owner, agent = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local field = lock .. '\t' .. owner
local pair = agent .. '\t' .. owner
local function keepAll()
  for i = 1, 3 do
    redis.call('PEXPIRE', KEYS[i], ARGV[7])
  end
end
if op == 'renew' then
  local entry = redis.call('HGET', KEYS[1], field)
  if not entry then
    return -1
  end
  local a, since, mode = string.match(entry, '^([^\t]*)\t(%d+)\t(%a)\t')
  redis.call('HSET', KEYS[1], field, a .. '\t' .. since .. '\t' .. mode .. '\t' .. string.format('%.0f', now + tonumber(ARGV[6])))
  return 1
end
local list = redis.call('HGET', KEYS[2], lock) or ''
local kept = {}
for item in string.gmatch(list, '[^ ]+') do
  if item ~= pair then
    kept[#kept + 1] = item
  end
end
if op == 'add' then
  kept[#kept + 1] = pair
  redis.call('HSET', KEYS[1], field, agent .. '\t' .. string.format('%.0f', now) .. '\t' .. ARGV[5] .. '\t' .. string.format('%.0f', now + tonumber(ARGV[6])))
  redis.call('ZADD', KEYS[3], string.format('%.0f', now), field)
  keepAll()
else
  redis.call('HDEL', KEYS[1], field)
  redis.call('ZREM', KEYS[3], field)
end
if #kept == 0 then
  redis.call('HDEL', KEYS[2], lock)
else
  redis.call('HSET', KEYS[2], lock, table.concat(kept, ' '))
end
return 1
