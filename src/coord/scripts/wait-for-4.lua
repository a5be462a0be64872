--[[ Record that an agent waits for a lock and look for a cycle of agents waiting for each other
  through the locks they hold (a bounded depth-first search). When one is found, the youngest
  waiter of the cycle (the latest wait) is the victim; if that is not the caller, the victim's
  instance is told on the graph's channel ("v agent owner").
  KEYS[1] waits (hash agent -> "lock<TAB>owner<TAB>since ms<TAB>deadline ms")
  KEYS[2] holds (hash "lock<TAB>owner" -> "agent<TAB>since ms<TAB>mode<TAB>expiry ms")
  KEYS[3] holders of each lock (hash lock -> space-separated "agent<TAB>owner" pairs)
  KEYS[4] hold ages (sorted set, kept alive with the others)
  ARGV[1] agent      ARGV[2] lock id      ARGV[3] waiting owner      ARGV[4] wait ms
  ARGV[5] 1 to record the wait (a new wait), 0 to search only (a sweep)
  ARGV[6] the graph's channel      ARGV[7] graph retention ms
  Returns { 0 }                                              no cycle
        | { 1, victim agent, victim owner, agent, lock, agent, lock, ... }   a cycle: who waits for what ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = ARGV[1]
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], start, ARGV[2] .. '\t' .. ARGV[3] .. '\t' .. string.format('%.0f', now) .. '\t' .. string.format('%.0f', now + tonumber(ARGV[4])))
  for i = 1, 4 do
    redis.call('PEXPIRE', KEYS[i], ARGV[7])
  end
end

-- What an agent waits for now: lock, owner, since (nil if nothing, or the wait ran out).
local function waitOf(agent)
  local entry = redis.call('HGET', KEYS[1], agent)
  if not entry then
    return nil
  end
  local lock, owner, since, deadline = string.match(entry, '^(.*)\t([^\t]*)\t(%d+)\t(%d+)$')
  if not lock or tonumber(deadline) <= now then
    return nil
  end
  return lock, owner, tonumber(since)
end

-- The agents holding a lock now (records past their expiry are skipped).
local function holdersOf(lock)
  local out = {}
  local list = redis.call('HGET', KEYS[3], lock)
  if not list then
    return out
  end
  for item in string.gmatch(list, '[^ ]+') do
    local agent, owner = string.match(item, '^(.*)\t([^\t]*)$')
    local entry = agent and redis.call('HGET', KEYS[2], lock .. '\t' .. owner)
    if entry then
      local expiry = tonumber(string.match(entry, '\t(%d+)$'))
      if expiry and expiry > now then
        out[#out + 1] = agent
      end
    end
  end
  return out
end

local parent = {}
local visited = { [start] = true }
local stack = { start }
local steps = 0
while #stack > 0 and steps < 256 do
  steps = steps + 1
  local agent = table.remove(stack)
  local lock = waitOf(agent)
  if lock then
    for _, holder in ipairs(holdersOf(lock)) do
      if holder == start then
        -- The cycle: start -> ... -> agent -> start. Walk back from agent.
        local cycle = {}
        local a = agent
        while a do
          table.insert(cycle, 1, a)
          a = parent[a]
        end
        local reply = { 1, '', '' }
        local youngest, youngestSince = nil, -1
        for _, member in ipairs(cycle) do
          local l, owner, since = waitOf(member)
          reply[#reply + 1] = member
          reply[#reply + 1] = l or ''
          if since and (since > youngestSince or (since == youngestSince and member == start)) then
            youngest, youngestSince = member, since
            reply[2], reply[3] = member, owner
          end
        end
        if youngest and youngest ~= start then
          redis.call('SPUBLISH', ARGV[6], 'v ' .. reply[2] .. ' ' .. reply[3])
        end
        return reply
      end
      if not visited[holder] then
        visited[holder] = true
        parent[holder] = agent
        stack[#stack + 1] = holder
      end
    end
  end
end
return { 0 }
