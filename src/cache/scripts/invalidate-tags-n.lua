--[[ Delete the values listed in tag sets (hard delete), the sets once empty, and record when
  each tag was invalidated (server µs), so a getOrSet load that began before does not store
  what it read (store-loaded checks it).
  The call passes a variable number of keys: one set per tag (KEYS[1..n]), then one
  last-invalidation key per tag (KEYS[n+1..2n]). The value keys are read from the sets; they
  share the sets' hash tag (one namespace), so they are on the same slot. A bounded number of
  members per set is handled in one call, so a huge tag never blocks the server for long: the
  caller calls again while the reply's second element is > 0.
  KEYS[1] first tag set
  ARGV[1] most members removed per set in this call
  ARGV[2] how long the invalidation time is kept, in ms (longer than any load)
  Returns { values deleted, members still left in the sets } ]]
local batch = tonumber(ARGV[1])
local n = #KEYS / 2
local t = redis.call('TIME')
-- Microseconds need 16 digits: format them, a bare number would be written as 1.7e+15.
local stamp = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
local deleted = 0
local left = 0
for i = 1, n do
  redis.call('SET', KEYS[n + i], stamp, 'PX', ARGV[2])
  local members = redis.call('SPOP', KEYS[i], batch)
  if #members > 0 then
    deleted = deleted + redis.call('UNLINK', unpack(members))
  end
  left = left + redis.call('SCARD', KEYS[i])
end
return { deleted, left }
