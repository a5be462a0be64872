--[[ Destroy a session (logout, or revoke one session of a user): delete the record and remove
  its handle, and that of the ID it replaced, from the user's index, so neither can be read again.
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle
  Returns 1 destroyed | 0 there was no such session ]]
local previous = redis.pcall('HGET', KEYS[1], 'p')
local listed = redis.call('ZREM', KEYS[2], ARGV[1])
if type(previous) == 'string' then
  redis.call('ZREM', KEYS[2], previous)
end
local deleted = redis.call('DEL', KEYS[1])
if deleted + listed > 0 then
  return 1
end
return 0
