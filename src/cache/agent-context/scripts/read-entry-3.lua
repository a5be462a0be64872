--[[ Read one entry of an agent-context scope: its version and its value, or a list's items.
  KEYS[1] scope version counter (string)
  KEYS[2] scope meta hash: '#' entry count, 'v:<key>' version, 'h:<key>' / 't:<key>' / 'b:<key>' list head, tail, bytes
  KEYS[3] scope data hash: 'v:<key>' value bytes, 'i:<key>:<n>' list item n
  ARGV[1] entry key
  Returns { scope version, ms to live of the scope (-1 none), entry version (0 missing), kind (0 missing | 1 value | 2 list), value | items... } ]]
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[2])
local key = ARGV[1]
local version = tonumber(redis.call('HGET', KEYS[2], 'v:' .. key) or '0')
if version == 0 then
  return { seq, ttl, 0, 0 }
end
local head = redis.call('HGET', KEYS[2], 'h:' .. key)
if not head then
  return { seq, ttl, version, 1, redis.call('HGET', KEYS[3], 'v:' .. key) }
end
local out = { seq, ttl, version, 2 }
local tail = tonumber(redis.call('HGET', KEYS[2], 't:' .. key))
local first = tonumber(head)
-- A list holds at most maxItems items (trimmed on append); read them in slices of 500 fields.
while first < tail do
  local last = math.min(first + 499, tail - 1)
  local fields = {}
  for i = first, last do
    fields[#fields + 1] = 'i:' .. key .. ':' .. i
  end
  local items = redis.call('HMGET', KEYS[3], unpack(fields))
  for i = 1, #items do
    out[#out + 1] = items[i]
  end
  first = last + 1
end
return out
