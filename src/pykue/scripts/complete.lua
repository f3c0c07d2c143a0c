-- complete: an active job's handler returned; store the result and apply retention.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] fencing token, ARGV[5] result
-- (JSON), ARGV[6] retention: '' keep, 'all' delete now, 'count:N' keep N newest complete
-- jobs of the type, 'age:MS' delete complete jobs of the type older than MS.
-- Returns {0} done (also when this same claim already completed it: a retried call),
-- {-1} no such job, {-2} the token is stale or the job left 'active' (lease lost).
-- Event: complete (id, type, result).
local id, token = ARGV[3], ARGV[4]
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'token', 'type', 'attempts_made', 'started_at')
local state, held, jtype = fields[1], fields[2], fields[3]
if not state then return {-1} end
if held ~= token then return {-2} end
if state == 'complete' then return {0} end
if state ~= 'active' then return {-2} end

local now = now_ms()
unindex(id, jtype, 'active')
redis.call('HSET', jk, 'state', 'complete', 'result', ARGV[5], 'completed_at', now, 'progress', 100,
  'updated_at', now, 'attempts_made', tonumber(fields[4]) + 1)
emit('event', 'complete', 'id', id, 'type', jtype, 'result', ARGV[5])
local ran = math.max(0, now - (tonumber(fields[5]) or now))
redis.call('HINCRBY', STATS, 'work_time', ran)
redis.call('HINCRBY', STATS, 'completed', 1)
observe('duration', ran)
count_minute(now, 'complete')

local policy = ARGV[6]
local typed = type_state_key(jtype, 'complete')
local doomed = {}
if policy == 'all' then
  doomed = {id}
else
  index(id, jtype, 'complete', now)
  if policy:sub(1, 6) == 'count:' then
    local excess = redis.call('ZCARD', typed) - tonumber(policy:sub(7))
    -- bounded per call so one completion never stalls Redis; later ones trim the rest
    if excess > 0 then
      local n = math.min(excess, 1000)
      local head = redis.call('ZRANGE', typed, 0, n - 1, 'WITHSCORES')
      local edge = head[#head]
      for i = 1, #head, 2 do
        if tonumber(head[i + 1]) < tonumber(edge) then doomed[#doomed + 1] = head[i] end
      end
      -- jobs completed in the same millisecond tie; ZRANGE would order them as strings
      -- ("10" before "9") and could take the newest, so take the lowest ids instead
      local tied = redis.call('ZRANGEBYSCORE', typed, edge, edge)
      table.sort(tied, function(a, b) return tonumber(a) < tonumber(b) end)
      for i = 1, n - #doomed do doomed[#doomed + 1] = tied[i] end
    end
  elseif policy:sub(1, 4) == 'age:' then
    doomed = redis.call('ZRANGEBYSCORE', typed, '-inf', now - tonumber(policy:sub(5)), 'LIMIT', 0, 1000)
  end
end
for _, victim in ipairs(doomed) do
  redis.call('ZREM', state_key('complete'), victim)
  redis.call('ZREM', typed, victim)
  drop(victim)
end
return {0}
