--[[ Shared by the queue's scripts that write events (pasted in where a script says
  `-- #include event-buffer.lua`, after its locals M (meta hash), E (events stream) and evmax). ]]
-- The call's events, in order, go into as few stream entries as fit (one, mostly): 'e' <type>
-- starts a run of one type, 'i' <job id> starts an event, other fields belong to the event before.
-- The stream is capped in entries, so the cap is the events wanted divided by a running average
-- of events per entry (kept in the meta hash as 'evk').
local evbuf, evtype, evcount = {}, nil, 0
local function flushEvents()
  if evcount == 0 then return end
  local per = tonumber(redis.call('HGET', M, 'evk') or '1')
  per = per + (evcount - per) / 8
  redis.call('HSET', M, 'evk', string.format('%.2f', per))
  redis.call('XADD', E, 'MAXLEN', '~', math.max(1, math.ceil(evmax / per)), '*', unpack(evbuf))
  evbuf, evtype, evcount = {}, nil, 0
end
local function ev(kind, id, f1, v1, f2, v2, f3, v3)
  if evmax == 0 then return end
  local b = evbuf
  local len = #b
  if kind ~= evtype then
    b[len + 1], b[len + 2] = 'e', kind
    len = len + 2
    evtype = kind
  end
  b[len + 1], b[len + 2] = 'i', id
  len = len + 2
  if f1 then b[len + 1], b[len + 2] = f1, v1; len = len + 2 end
  if f2 then b[len + 1], b[len + 2] = f2, v2; len = len + 2 end
  if f3 then b[len + 1], b[len + 2] = f3, v3; len = len + 2 end
  evcount = evcount + 1
  -- unpack() of a table that large would pass Lua's stack limit (~8000)
  if len >= 4000 then flushEvents() end
end
