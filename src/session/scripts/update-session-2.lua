--[[ Write fields of a live session: a field-level merge, so concurrent updates of different
  fields all stay. Never creates a record: a destroyed, revoked, expired or rotated session
  stays gone. With an expected version, nothing is written unless it matches (check-and-set).
  Compare-and-set fields are rewritten only if their stored bytes are still those the caller
  read (their SHA1), so re-encrypting a field with a newer key never overwrites a newer value.
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle
  ARGV[2] expected version, or an empty string for any
  ARGV[3] most data fields a session may have
  ARGV[4] number s of fields to set      ARGV[5] number d of fields to delete
  ARGV[6] number k of compare-and-set fields
  then s field/value pairs, d field names, k triples field/SHA1 of the bytes read/new value
  Returns { 1, new version } | { -5, current version } version mismatch
        | -1 no such session | -2 revoked | -3 expired | -4 rotated (read-only) | -6 malformed
        | -9 more fields than allowed ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local meta = redis.pcall('HMGET', KEYS[1], 'v', 'a', 'i', 's', 'r', 'o')
if type(meta) ~= 'table' or meta.err then
  return -6
end
if not meta[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return -6
  end
  return -1
end
local v, a, i, s, r, o =
  tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4]), tonumber(meta[5]), tonumber(meta[6])
if not (v and a and i and s and r and o) then
  return -6
end
local handle = ARGV[1]
if r > 0 then
  return -4
end
if now >= a or now >= s + i then
  redis.call('DEL', KEYS[1])
  if o == 1 then
    redis.call('ZREM', KEYS[2], handle)
  end
  return -3
end
if o == 1 and not redis.call('ZSCORE', KEYS[2], handle) then
  redis.call('DEL', KEYS[1])
  return -2
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= v then
  return { -5, v }
end
local nset, ndel, ncas = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local at = 7
local added = 0
for j = 0, nset - 1 do
  if redis.call('HEXISTS', KEYS[1], ARGV[at + 2 * j]) == 0 then
    added = added + 1
  end
end
if added > 0 then
  local dataFields = redis.call('HLEN', KEYS[1]) - 9
  if redis.call('HEXISTS', KEYS[1], 'p') == 1 then
    dataFields = dataFields - 1
  end
  if dataFields + added > tonumber(ARGV[3]) then
    return -9
  end
end
if nset > 0 then
  local args = {}
  for j = 0, 2 * nset - 1 do
    args[j + 1] = ARGV[at + j]
  end
  redis.call('HSET', KEYS[1], unpack(args))
end
at = at + 2 * nset
if ndel > 0 then
  local args = {}
  for j = 0, ndel - 1 do
    args[j + 1] = ARGV[at + j]
  end
  redis.call('HDEL', KEYS[1], unpack(args))
end
at = at + ndel
for j = 0, ncas - 1 do
  local field = ARGV[at + 3 * j]
  local current = redis.call('HGET', KEYS[1], field)
  if current and redis.sha1hex(current) == ARGV[at + 3 * j + 1] then
    redis.call('HSET', KEYS[1], field, ARGV[at + 3 * j + 2])
  end
end
return { 1, redis.call('HINCRBY', KEYS[1], 'v', 1) }
