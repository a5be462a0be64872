--[[ Read a session and slide its idle expiry in one step, on server time: the idle timeout,
  the absolute timeout and the user's index (a session of a user is live only while its handle
  is in the index: revoke and revoke-all remove it there) are all checked here. An ID rotated by
  regenerate stays readable, read-only and untouched, until its overlap window ends.
  A read does not trim the index: entries are only added by create, which trims it (as do list
  and quarantine), and create keeps at most maxPerUser of them. A record's key lives at least
  60 s past its deadline (field e holds the key's expiry), so a late read can still tell
  "expired" from "no such session".
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> expiry in server ms)
  ARGV[1] the record's handle (its member in the index)
  ARGV[2] 1 to touch (record last seen, slide the expiry), 0 to only read
  ARGV[3] renewal interval in ms (0: never due)
  ARGV[4] touch interval in ms: last seen is not written again within it
  ARGV[5] the version whose data the caller holds already (its data is then not sent), or an empty string
  Returns { 1, now, expires at, renewal due 0|1, version, created, absolute deadline, last seen, rotated until, owned, data } live
          (without the data when the version is the one the caller holds)
        | { 2, ... the same } a rotated ID within its overlap window (read-only, not touched)
        | -1 no such session | -2 revoked | -3 expired | -4 rotated, overlap over | -6 malformed ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local meta = redis.pcall('HMGET', KEYS[1], 'v', 'a', 'i', 's', 'r', 'o', 'n', 'c', 'e')
if type(meta) ~= 'table' or meta.err then
  return -6
end
if not meta[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return -6
  end
  return -1
end
local v, a, i, s, r, o, n, c =
  tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4]),
  tonumber(meta[5]), tonumber(meta[6]), tonumber(meta[7]), tonumber(meta[8])
if not (v and a and i and s and r and o and n and c) then
  return -6
end
local handle = ARGV[1]
local function drop(code)
  redis.call('DEL', KEYS[1])
  if o == 1 then
    redis.call('ZREM', KEYS[2], handle)
  end
  return code
end
if r > 0 and now >= r then
  return drop(-4)
end
if now >= a or now >= s + i then
  return drop(-3)
end
local status = 1
local expires = math.min(s + i, a)
local due = 0
local touching = r == 0 and ARGV[2] == '1' and now - s >= tonumber(ARGV[4])
if touching then
  expires = math.min(now + i, a)
end
if o == 1 then
  -- the session is live only while its handle is in the index; when touching, ZADD XX both
  -- checks that and slides the entry (0 also means the score did not change: ask ZSCORE then)
  local listed
  if touching then
    listed = redis.call('ZADD', KEYS[2], 'XX', 'CH', expires, handle) == 1 or redis.call('ZSCORE', KEYS[2], handle)
  else
    listed = redis.call('ZSCORE', KEYS[2], handle)
  end
  if not listed then
    return drop(-2)
  end
end
if r > 0 then
  status = 2
  expires = r
elseif ARGV[2] == '1' then
  if touching then
    s = now
    -- the key's expiry (kept in e) only moves when it would end before expires + 60 s, and then
    -- by an eighth of the idle timeout more: most touches write one field
    local e = tonumber(meta[9])
    if not e or e < expires + 60000 then
      e = math.min(now + i + math.floor(i / 8), a) + 60000
      redis.call('HSET', KEYS[1], 's', now, 'e', e)
      redis.call('PEXPIREAT', KEYS[1], e)
    else
      redis.call('HSET', KEYS[1], 's', now)
    end
  end
  local renew = tonumber(ARGV[3])
  if renew > 0 and now - n >= renew then
    due = 1
  end
end
if ARGV[5] == meta[1] then
  return { status, now, expires, due, v, c, a, s, r, o }
end
local data = redis.call('HGET', KEYS[1], 'd')
if not data then
  return -6
end
return { status, now, expires, due, v, c, a, s, r, o, data }
