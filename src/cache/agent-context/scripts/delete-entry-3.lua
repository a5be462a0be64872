--[[ Delete one entry of an agent-context scope (a value, or a list and its items). The deletion
  takes the scope's next version, so versions never repeat. With an expected version, deletes
  only if the entry is at it.
  With a ttl the counter expires with the scope; a scope written again after it expired starts
  its counter from the server clock (microseconds), above every version of its earlier life, so
  a version is never reused.
  KEYS[1] scope version counter
  KEYS[2] scope meta hash
  KEYS[3] scope data hash
  ARGV[1] entry key
  ARGV[2] expected current version: '' for any
  ARGV[3] ms to live of the scope, refreshed by this deletion (0: no expiry set)
  Returns { 1, version of the deletion } deleted | { 0, scope version } no such entry | { -1, current version } on a version conflict ]]
local key = ARGV[1]
local current = tonumber(redis.call('HGET', KEYS[2], 'v:' .. key) or '0')
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= current then
  return { -1, current }
end
if current == 0 then
  return { 0, tonumber(redis.call('GET', KEYS[1]) or '0') }
end
local head = redis.call('HGET', KEYS[2], 'h:' .. key)
if head then
  local first = tonumber(head)
  local tail = tonumber(redis.call('HGET', KEYS[2], 't:' .. key))
  while first < tail do
    local last = math.min(first + 499, tail - 1)
    local fields = {}
    for i = first, last do
      fields[#fields + 1] = 'i:' .. key .. ':' .. i
    end
    redis.call('HDEL', KEYS[3], unpack(fields))
    first = last + 1
  end
  redis.call('HDEL', KEYS[2], 'h:' .. key, 't:' .. key, 'b:' .. key)
else
  redis.call('HDEL', KEYS[3], 'v:' .. key)
end
redis.call('HDEL', KEYS[2], 'v:' .. key)
redis.call('HINCRBY', KEYS[2], '#', -1)
local ttl = tonumber(ARGV[3])
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local version = redis.call('INCR', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return { 1, version }
