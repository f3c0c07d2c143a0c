-- promote: move delayed jobs whose run-at has passed (Redis time) to inactive.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] most jobs to move in this call
-- Returns {moved, next run-at still delayed (-1 if none)}.
-- Event: promotion (id, type) per job.
local now = now_ms()
local delayed = state_key('delayed')
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  local fields = job_fields(id, 'type', 'priority') or {} -- {} for a key that is no hash
  if fields[1] then
    unindex(id, fields[1], 'delayed')
    make_inactive(id, fields[1], fields[2], now)
    emit('event', 'promotion', 'id', id, 'type', fields[1])
  else
    redis.call('ZREM', delayed, id)
  end
end
local next_run = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
return {#due, next_run[2] and tonumber(next_run[2]) or -1}
