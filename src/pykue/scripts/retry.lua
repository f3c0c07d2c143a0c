-- retry: move a failed job back to inactive with its attempts and stalls reset; one that
-- failed because of a dependency waits for it again (waiting) while it is not done.
-- Its dependents that failed only because of it wait again too, transitively.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id
-- Returns {0}, {-1} no such job, {-3, state} not failed.
-- Events: retry (id, type); state (id, type, from, to) per dependent waiting again.
local id = ARGV[3]
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'type', 'priority', 'failed_by', 'pending',
  'dependents')
if not fields[1] then return {-1} end
if fields[1] ~= 'failed' then return {-3, fields[1]} end
local now = now_ms()
unindex(id, fields[2], 'failed')
redis.call('HSET', jk, 'attempts_made', 0, 'stalls', 0, 'progress', 0)
redis.call('HDEL', jk, 'error', 'failed_at', 'progress_data', 'failed_by')
if (tonumber(fields[5]) or 0) > 0 then -- dependencies not done: it waits for them
  redis.call('HSET', jk, 'state', 'waiting', 'updated_at', now)
  index(id, fields[2], 'waiting', id)
else
  make_inactive(id, fields[2], fields[3], now)
end
emit('event', 'retry', 'id', id, 'type', fields[2])
if fields[6] then dependency_retried(id, now) end
return {0}
