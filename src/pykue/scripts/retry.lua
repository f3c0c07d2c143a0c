-- retry: move a failed job back to inactive with its attempts and stalls reset.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id
-- Returns {0}, {-1} no such job, {-3, state} not failed.
-- Event: retry (id, type).
local id = ARGV[3]
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'type', 'priority')
if not fields[1] then return {-1} end
if fields[1] ~= 'failed' then return {-3, fields[1]} end
unindex(id, fields[2], 'failed')
redis.call('HSET', jk, 'attempts_made', 0, 'stalls', 0, 'progress', 0)
redis.call('HDEL', jk, 'error', 'failed_at', 'progress_data')
make_inactive(id, fields[2], fields[3], now_ms())
emit('event', 'retry', 'id', id, 'type', fields[2])
return {0}
