-- set_state: move a job to another state by hand (Kue's PUT /job/:id/state/:state).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] target state: inactive,
-- delayed, complete or failed (checked by the caller; 'active' is for workers only).
-- Returns {0} done, {-1} no such job.
-- An active job's fencing token is bumped, so its worker's late answer is refused and
-- the worker drops the job at its next lease renewal.
-- Its dependents learn of it as of a worker's outcome: set complete, they record it
-- (with the result it has, null if none) and may be released; set failed, they follow
-- their policy; moved out of failed, they forget its failure (see _common.lua).
-- Events: state (id, type, from, to), and ready, failed or state per dependent moved.
local id, target = ARGV[3], ARGV[4]
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'type', 'priority', 'run_at', 'dependents',
  'result', 'error')
local state, jtype = fields[1], fields[2]
if not state then return {-1} end
if state == target then return {0} end

local now = now_ms()
unindex(id, jtype, state)
if state == 'active' then redis.call('HINCRBY', jk, 'token', 1) end
if target == 'inactive' then
  make_inactive(id, jtype, fields[3], now)
elseif target == 'delayed' then
  -- keeps a future run-at; otherwise the next promotion makes it inactive again
  local run_at = math.max(tonumber(fields[4]) or now, now)
  redis.call('HSET', jk, 'state', 'delayed', 'run_at', run_at, 'updated_at', now)
  index(id, jtype, 'delayed', run_at)
  wake(jtype)
else
  local stamp = target == 'complete' and 'completed_at' or 'failed_at'
  redis.call('HSET', jk, 'state', target, stamp, now, 'updated_at', now)
  index(id, jtype, target, now)
end
emit('event', 'state', 'id', id, 'type', jtype, 'from', state, 'to', target)
if fields[5] then
  if state == 'failed' then dependency_retried(id, now) end
  if target == 'complete' then
    dependency_complete(id, fields[6] or 'null', now)
  elseif target == 'failed' then
    dependency_failed(id, fields[7] or HAND_FAILED, now, false)
  end
end
flush_stats()
return {0}
