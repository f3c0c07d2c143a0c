-- due_schedules: the schedules whose next run has come, by Redis's clock (a read: it
-- changes nothing; fire_schedule.lua takes each run).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] most schedules to return
-- Returns {now, next run of the first schedule not yet due (-1: none), then per due
-- schedule, earliest first: key, its run (ms), its stored form (false when it has none)}.
local now = now_ms()
local first = redis.call('ZRANGE', SCHEDULES_DUE, 0, tonumber(ARGV[3]) - 1, 'WITHSCORES')
local reply = {now, -1}
for i = 1, #first, 2 do
  local at = math.floor(tonumber(first[i + 1]))
  if at > now then
    reply[2] = at
    break
  end
  reply[#reply + 1] = first[i]
  reply[#reply + 1] = at
  reply[#reply + 1] = redis.call('HGET', SCHEDULES, first[i])
end
return reply
