-- fail: an active job's attempt failed; retry it (delayed by backoff, or inactive) while
-- attempts remain, else mark it failed.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] fencing token, ARGV[5] error
-- message, ARGV[6] error record (JSON: attempt, error, traceback), ARGV[7] retry delay (ms),
-- ARGV[8] '1' to fail it for good whatever attempts remain (a job that cannot be run).
-- Returns {0, made} if the attempt will be retried, {1, made} if the job failed for good,
-- {2} when this claim already recorded its failure (a retried call), {-1} no such job
-- (or its key is no job hash), {-2} lease lost.
-- A job failed for good takes its dependents with it, as their policies say (see
-- _common.lua's dependency_failed).
-- Events: 'failed attempt' (id, type, error, attempts_made) or failed (id, type, error),
-- and failed or ready per dependent that fails or is released.
local id, token, message = ARGV[3], ARGV[4], ARGV[5]
local jk = job_key(id)
local fields = job_fields(id, 'state', 'token', 'type', 'attempts', 'priority', 'started_at',
  'dependents') or {}
local state, held, jtype = fields[1], fields[2], fields[3]
if not state or not jtype then return {-1} end
if held ~= token then return {-2} end
if state ~= 'active' then return {2} end

local now = now_ms()
-- numbers read leniently: a hash written by hand or by another tool must still fail
local made = (tonumber(redis.call('HGET', jk, 'attempts_made')) or 0) + 1
redis.call('HSET', jk, 'attempts_made', made)
redis.call('RPUSH', errors_key(id), ARGV[6])
redis.call('HSET', jk, 'error', message, 'updated_at', now)
unindex(id, jtype, 'active')
local ran = math.max(0, now - (tonumber(fields[6]) or now))
bump('work_time', ran)
observe('duration', ran)
if ARGV[8] ~= '1' and made < (tonumber(fields[4]) or 1) then
  bump('failed_attempts', 1)
  local delay = tonumber(ARGV[7])
  if delay > 0 then
    redis.call('HSET', jk, 'state', 'delayed', 'run_at', now + delay)
    index(id, jtype, 'delayed', now + delay)
    wake(jtype)
  else
    make_inactive(id, jtype, fields[5], now)
  end
  emit('event', 'failed attempt', 'id', id, 'type', jtype, 'error', message, 'attempts_made', made)
  flush_stats()
  return {0, made}
end
redis.call('HSET', jk, 'state', 'failed', 'failed_at', now)
index(id, jtype, 'failed', now)
bump('failed', 1)
count_minute(now, 'failed')
emit('event', 'failed', 'id', id, 'type', jtype, 'error', message)
if fields[7] then dependency_failed(id, message, now, false) end
flush_stats()
return {1, made}
