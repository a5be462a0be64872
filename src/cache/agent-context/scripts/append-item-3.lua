--[[ Append an item to a list entry of an agent-context scope (creating it), then trim the oldest
  items until it holds at most maxItems items and maxBytes bytes (the newest item always stays).
  The list gets the scope's next version. With an expected version, appends only if the entry is at it.
  With a ttl the counter expires with the scope; a scope written again after it expired starts
  its counter from the server clock (microseconds), above every version of its earlier life, so
  a version is never reused.
  KEYS[1] scope version counter
  KEYS[2] scope meta hash
  KEYS[3] scope data hash
  ARGV[1] entry key
  ARGV[2] item bytes
  ARGV[3] expected current version: '' for any, '0' for "must not exist"
  ARGV[4] ms to live of the scope, refreshed by this append (0: no expiry set)
  ARGV[5] most items kept
  ARGV[6] most bytes kept
  Returns { new version, previous version (0 if new), items trimmed from the head } | { -1, current version } on a version conflict | { -2, current version } when the key holds a value, not a list ]]
local key = ARGV[1]
local current = tonumber(redis.call('HGET', KEYS[2], 'v:' .. key) or '0')
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= current then
  return { -1, current }
end
local head = 0
local tail = 0
local bytes = 0
if current > 0 then
  local h = redis.call('HGET', KEYS[2], 'h:' .. key)
  if not h then
    return { -2, current }
  end
  head = tonumber(h)
  tail = tonumber(redis.call('HGET', KEYS[2], 't:' .. key))
  bytes = tonumber(redis.call('HGET', KEYS[2], 'b:' .. key))
else
  redis.call('HINCRBY', KEYS[2], '#', 1)
end
redis.call('HSET', KEYS[3], 'i:' .. key .. ':' .. tail, ARGV[2])
tail = tail + 1
bytes = bytes + #ARGV[2]
local maxItems = tonumber(ARGV[5])
local maxBytes = tonumber(ARGV[6])
-- Each append adds one item, so this removes one item on average (more only after the limits shrink).
local trimmed = 0
while (tail - head > maxItems) or (bytes > maxBytes and tail - head > 1) do
  local field = 'i:' .. key .. ':' .. head
  bytes = bytes - redis.call('HSTRLEN', KEYS[3], field)
  redis.call('HDEL', KEYS[3], field)
  head = head + 1
  trimmed = trimmed + 1
end
local ttl = tonumber(ARGV[4])
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local version = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'v:' .. key, version, 'h:' .. key, head, 't:' .. key, tail, 'b:' .. key, bytes)
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return { version, current, trimmed }
