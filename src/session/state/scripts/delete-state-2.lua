--[[ Delete an agent-state document and its history, optionally only at an expected version.
  KEYS[1] the document (hash)      KEYS[2] its history (list)
  ARGV[1] expected version, or an empty string for any
  Returns 1 deleted | 0 there was no such document | { -5, current version } the version did not match ]]
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0') or 0
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then
  return { -5, current }
end
redis.call('DEL', KEYS[2])
return redis.call('DEL', KEYS[1])
