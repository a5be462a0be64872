--[[ Store a new version of a limiter's live rules, append its audit entry and announce it,
  unless another version was stored since the caller read it.
  KEYS[1] the rules hash (version, document, at)
  KEYS[2] the audit list (newest first, capped)
  ARGV[1] expected current version, or -1 for any
  ARGV[2] the rule document (JSON, validated by the caller)
  ARGV[3] the audit entry (JSON object; version and at are added here)
  ARGV[4] the channel announcing new versions
  ARGV[5] audit entries kept
  Returns { 1, new version } stored | { -1, current version } another version came first ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or 0)
local expected = tonumber(ARGV[1])
if expected >= 0 and expected ~= current then
  return { -1, current }
end
local version = current + 1
redis.call('HSET', KEYS[1], 'version', version, 'document', ARGV[2], 'at', now)
local entry = cjson.decode(ARGV[3])
entry['version'] = version
entry['at'] = now
redis.call('LPUSH', KEYS[2], cjson.encode(entry))
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('PUBLISH', ARGV[4], version)
return { 1, version }
