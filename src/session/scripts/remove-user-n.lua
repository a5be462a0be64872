--[[ Revoke every session of a user at once (log out everywhere), or erase all their records.
  The call passes a variable number of keys: the user's index, the tag's quarantine index, then
  one key per record the caller listed (sessions first, then quarantined records), all sharing
  the user's hash tag. Strict: if an index holds a handle the caller did not list (a session
  created since the listing), nothing is done and -8 tells the caller to list again. Not
  strict: every listed record is deleted and the index emptied, so an unlisted session is
  revoked too (it is no longer in the index) and removed on its next read or at its expiry.
  KEYS[1] the user's index (sorted set: handle -> expiry in server ms)
  KEYS[2] the tag's quarantine index (sorted set: handle -> expiry in server ms)
  KEYS[3] first listed record
  ARGV[1] 'revoke' (sessions only) or 'erase' (sessions and quarantined records)
  ARGV[2] 1 strict, 0 not
  ARGV[3] handle of a session to keep (revoke all others), or an empty string
  ARGV[4] number s of listed session records; the listed keys after them are quarantined records
  ARGV[5] first listed handle (one per listed key, in KEYS order)
  Returns { 1, records deleted } | -8 an index changed since the listing ]]
local erase = ARGV[1] == 'erase'
local keep = ARGV[3]
local sessions = tonumber(ARGV[4])
local listed = #KEYS - 2
if ARGV[2] == '1' then
  local known = {}
  for j = 1, listed do
    known[ARGV[4 + j]] = true
  end
  local last = 1
  if erase then
    last = 2
  end
  for k = 1, last do
    local members = redis.call('ZRANGE', KEYS[k], 0, -1)
    for j = 1, #members do
      if members[j] ~= keep and not known[members[j]] then
        return -8
      end
    end
  end
end
local deleted = 0
for j = 1, listed do
  local handle = ARGV[4 + j]
  if handle ~= keep then
    deleted = deleted + redis.call('DEL', KEYS[2 + j])
  end
end
local score = false
local ttl = redis.call('PTTL', KEYS[1])
if keep ~= '' then
  score = redis.call('ZSCORE', KEYS[1], keep)
end
redis.call('DEL', KEYS[1])
if score then
  redis.call('ZADD', KEYS[1], score, keep)
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
if erase then
  redis.call('DEL', KEYS[2])
end
return { 1, deleted }
