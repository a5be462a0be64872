--[[ List locks held longer than a maximum, oldest first (at most 100 per call), from the graph's
  hold records; records past their expiry are dropped on the way (at most 100 per call).
  KEYS[1] hold ages (sorted set "lock<TAB>owner" -> since ms)
  KEYS[2] holds (hash "lock<TAB>owner" -> "agent<TAB>since ms<TAB>mode<TAB>expiry ms")
  ARGV[1] maximum hold ms
  Returns { "lock<TAB>owner", "agent<TAB>since<TAB>mode<TAB>expiry", ... } ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - tonumber(ARGV[1])), 'LIMIT', 0, 100)
local out = {}
for _, field in ipairs(old) do
  local entry = redis.call('HGET', KEYS[2], field)
  local expiry = entry and tonumber(string.match(entry, '\t(%d+)$'))
  if not expiry or expiry <= now then
    redis.call('ZREM', KEYS[1], field)
    redis.call('HDEL', KEYS[2], field)
  else
    out[#out + 1] = field
    out[#out + 1] = entry
  end
end
return out
