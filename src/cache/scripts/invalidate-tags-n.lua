--[[ Delete the values listed in tag sets (hard delete) and the sets once empty.
  The call passes a variable number of keys: one set per tag (KEYS[1..n]). The value keys are
  read from the sets; they share the sets' hash tag (one namespace), so they are on the same slot.
  A bounded number of members per set is handled in one call, so a huge tag never blocks the
  server for long: the caller calls again while the reply's second element is > 0.
  KEYS[1] first tag set
  ARGV[1] most members removed per set in this call
  Returns { values deleted, members still left in the sets } ]]
local batch = tonumber(ARGV[1])
local deleted = 0
local left = 0
for i = 1, #KEYS do
  local members = redis.call('SPOP', KEYS[i], batch)
  if #members > 0 then
    deleted = deleted + redis.call('UNLINK', unpack(members))
  end
  left = left + redis.call('SCARD', KEYS[i])
end
return { deleted, left }
