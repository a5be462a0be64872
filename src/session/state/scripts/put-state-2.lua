--[[ Write a new version of an agent-state document (optimistic concurrency): the write applies
  only if the document is at the expected version; the version it replaces is pushed onto the
  document's history (newest first, trimmed to the last N). Time from the server.
  KEYS[1] the document (hash: v version, t updated at in server ms, d encoded value)
  KEYS[2] its history (list of "version:updated-at:encoded value", newest first)
  ARGV[1] expected version: an empty string for any, 0 for "must not exist"
  ARGV[2] the encoded value
  ARGV[3] time to live in ms (0: none; a write without one makes the document persistent)
  ARGV[4] how many earlier versions to keep (0: no history)
  Returns { 1, new version, updated at } | { -5, current version } the version did not match ]]
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0') or 0
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then
  return { -5, current }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[4])
if keep > 0 and current > 0 then
  local previous = redis.call('HMGET', KEYS[1], 't', 'd')
  redis.call('LPUSH', KEYS[2], current .. ':' .. (previous[1] or '0') .. ':' .. (previous[2] or ''))
  redis.call('LTRIM', KEYS[2], 0, keep - 1)
elseif keep == 0 then
  redis.call('DEL', KEYS[2])
end
redis.call('HSET', KEYS[1], 'v', current + 1, 't', now, 'd', ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return { 1, current + 1, now }
