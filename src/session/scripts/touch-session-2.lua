--[[ Read sessions (one, or the reads a process made at once) and slide their idle expiry in one
  step, on server time: the idle timeout,
  the absolute timeout and the user's index (a session of a user is live only while its handle
  is in the index: revoke and revoke-all remove it there) are all checked here. An ID rotated by
  regenerate stays readable, read-only and untouched, until its overlap window ends.
  A read does not trim the index: entries are only added by create, which trims it (as do list
  and quarantine), and create keeps at most maxPerUser of them. A record's key lives at least
  60 s past its deadline (field e holds the key's expiry), so a late read can still tell
  "expired" from "no such session". An index entry's score is e less those 60 s: never before
  the session's expiry, and written only when e moves (an eighth of the idle timeout at a time),
  so most touches check the entry (ZSCORE) and write one field.
  Per read, two keys and five arguments (after the number of reads m):
  KEYS[1] session record (hash)
  KEYS[2] the user's index (sorted set: handle -> server ms the session cannot outlive)
  ARGV[1] the number of reads m
  ARGV[2] the record's handle (its member in the index)
  ARGV[3] 1 to touch (record last seen, slide the expiry), 0 to only read
  ARGV[4] renewal interval in ms (0: never due)
  ARGV[5] touch interval in ms: last seen is not written again within it
  ARGV[6] the version the caller holds already (its data, created and absolute deadline), or an empty string
  Returns per read its length, then its reply, one after the other; a read's reply is
          { 1, now, expires at, renewal due 0|1, version, created, absolute deadline, last seen, rotated until, owned, data } live
          | { 1, now, expires at, renewal due, last seen, owned } live, at the version the caller holds
        | { 2, ... the same } a rotated ID within its overlap window (read-only, not touched; it
          expires when the window ends, so in the short form rotated until is expires at)
        | -1 no such session | -2 revoked | -3 expired | -4 rotated, overlap over | -6 malformed ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- written as text once: a number handed to redis.call is formatted again on every call
local nowText = string.format('%d', now)
-- a session that can no longer be used: its record goes, and its index entry if it has one
local function drop(record, index, handle, owned, code)
  redis.call('DEL', record)
  if owned == 1 then
    redis.call('ZREM', index, handle)
  end
  return code
end

local function read(record, index, handle, touch, renewAfter, touchInterval, known)
  local meta = redis.pcall('HMGET', record, 'v', 'a', 'i', 's', 'r', 'o', 'n', 'e')
  if type(meta) ~= 'table' or meta.err then
    return -6
  end
  if not meta[1] then
    if redis.call('EXISTS', record) == 1 then
      return -6
    end
    return -1
  end
  -- only what the checks need is parsed (each conversion costs); the rest goes back as stored
  local v, a, i, s, r, o = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4]),
    tonumber(meta[5]), meta[6]
  if not (v and a and i and s and r and meta[7] and (o == '1' or o == '0')) then
    return -6
  end
  o = o == '1' and 1 or 0
  if r > 0 and now >= r then
    return drop(record, index, handle, o, -4)
  end
  if now >= a or now >= s + i then
    return drop(record, index, handle, o, -3)
  end
  local status = 1
  local expires = math.min(s + i, a)
  local due = 0
  local touching = r == 0 and touch == '1' and now - s >= tonumber(touchInterval)
  -- the key's expiry (kept in e) only moves when it would end before expires + 60 s, and then
  -- by an eighth of the idle timeout more
  local e
  if touching then
    expires = math.min(now + i, a)
    e = tonumber(meta[8])
    if e and e >= expires + 60000 then
      e = nil
    else
      e = math.min(now + i + math.floor(i / 8), a) + 60000
    end
  end
  if o == 1 then
    -- the session is live only while its handle is in the index; when e moves, ZADD XX both
    -- checks that and moves the entry (0 also means the score did not change: ask ZSCORE then)
    local listed
    if e then
      listed = redis.call('ZADD', index, 'XX', 'CH', e - 60000, handle) == 1 or redis.call('ZSCORE', index, handle)
    else
      listed = redis.call('ZSCORE', index, handle)
    end
    if not listed then
      return drop(record, index, handle, o, -2)
    end
  end
  if r > 0 then
    status = 2
    expires = r
  elseif touch == '1' then
    if touching then
      s = now
      if e then
        redis.call('HSET', record, 's', nowText, 'e', e)
        redis.call('PEXPIREAT', record, e)
      else
        redis.call('HSET', record, 's', nowText)
      end
    end
    local renew = tonumber(renewAfter)
    if renew > 0 then
      local n = tonumber(meta[7])
      if not n then
        return -6
      end
      if now - n >= renew then
        due = 1
      end
    end
  end
  if known == meta[1] then
    -- the caller holds this version: its data, created and deadlines (fixed per version) too
    return { status, now, expires, due, s, o }
  end
  local rest = redis.call('HMGET', record, 'c', 'd')
  if not (tonumber(rest[1]) and rest[2]) then
    return -6
  end
  return { status, now, expires, due, meta[1], rest[1], meta[2], s, meta[5], o, rest[2] }
end

local m = tonumber(ARGV[1])
local out = {}
for j = 1, m do
  local a = 2 + (j - 1) * 5
  local k = 1 + (j - 1) * 2
  local reply = read(KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
  if type(reply) == 'table' then
    out[#out + 1] = #reply
    for x = 1, #reply do
      out[#out + 1] = reply[x]
    end
  else
    out[#out + 1] = 1
    out[#out + 1] = reply
  end
end
return out
