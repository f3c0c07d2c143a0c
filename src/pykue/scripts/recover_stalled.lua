-- recover_stalled: active jobs whose lease expired (their worker died or hung) go back
-- to inactive, or to failed once they stalled more than MAX_STALLS times. The fencing
-- token is bumped so the lost owner's late ack is refused.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] max stalls, ARGV[4] most jobs per call,
-- ARGV[5] error record (JSON) stored for a job that fails here
-- Returns {requeued, failed}.
-- Events: stalled (id, type, stalls) or failed (id, type, error), and failed or ready per
-- dependent of a job failed here (see _common.lua's dependency_failed).
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local requeued, failed = 0, 0
local limit_error = 'job stalled more than allowable limit'
for _, id in ipairs(expired) do
  local jk = job_key(id)
  local fields = job_fields(id, 'type', 'priority', 'state', 'dependents') or {}
  if fields[3] ~= 'active' then
    redis.call('ZREM', LEASES, id) -- stray lease of a job that is gone or moved on
  else
    local jtype = fields[1]
    unindex(id, jtype, 'active')
    -- numbers read leniently: one hash written by hand must not stop the sweep
    local counts = redis.call('HMGET', jk, 'token', 'stalls', 'attempts_made')
    local stalls = (tonumber(counts[2]) or 0) + 1
    redis.call('HSET', jk, 'token', (tonumber(counts[1]) or 0) + 1, 'stalls', stalls)
    if stalls > tonumber(ARGV[3]) then
      redis.call('HSET', jk, 'attempts_made', (tonumber(counts[3]) or 0) + 1)
      redis.call('RPUSH', errors_key(id), ARGV[5])
      redis.call('HSET', jk, 'state', 'failed', 'error', limit_error, 'failed_at', now, 'updated_at', now)
      index(id, jtype, 'failed', now)
      bump('failed', 1)
      count_minute(now, 'failed')
      emit('event', 'failed', 'id', id, 'type', jtype, 'error', limit_error)
      if fields[4] then dependency_failed(id, limit_error, now, false) end
      failed = failed + 1
    else
      make_inactive(id, jtype, fields[2], now)
      emit('event', 'stalled', 'id', id, 'type', jtype, 'stalls', stalls)
      requeued = requeued + 1
    end
  end
end
flush_stats()
return {requeued, failed}
