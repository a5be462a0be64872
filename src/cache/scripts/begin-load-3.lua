--[[ Begin a getOrSet load after an L2 miss: look at the value once more, then take the key's
  lease (the cross-process stampede guard) with a fencing token from the namespace's counter.
  A value past its fresh-until time is stale and does not stop the load. A binary frame starts
  0xCA, flags, fresh-until in Unix ms (48-bit big-endian); a text frame starts '~', flags,
  fresh-until in 9 base-36 digits.
  KEYS[1] value key      KEYS[2] lease key      KEYS[3] the namespace's fencing counter
  ARGV[1] lease time to live in ms (0: no lease wanted, only the server time)
  Returns { 1, frame }              a fresh value is there now
        | { 2, now µs, token }      go ahead: the lease is ours (token 0 when none was wanted)
        | { 3, now µs, ms left }    another loader holds the lease for that long yet
  (now in microseconds: the load's start, compared with tags' invalidation times by store-loaded) ]]
local t = redis.call('TIME')
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(nowUs / 1000)
local v = redis.call('GET', KEYS[1])
if v then
  local freshUntil = 0
  local marker = string.byte(v, 1)
  if marker == 202 and string.len(v) >= 8 then
    local b3, b4, b5, b6, b7, b8 = string.byte(v, 3, 8)
    freshUntil = ((((b3 * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
  elseif marker == 126 and string.len(v) >= 11 then
    freshUntil = tonumber(string.sub(v, 3, 11), 36) or 0
  end
  if freshUntil > now then
    return { 1, v }
  end
end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then
  return { 2, nowUs, 0 }
end
local left = redis.call('PTTL', KEYS[2])
if left > 0 then
  return { 3, nowUs, left }
end
local token = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], token, 'PX', ttl)
return { 2, nowUs, token }
