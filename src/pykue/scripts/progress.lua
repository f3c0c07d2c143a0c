-- progress: record an active job's progress, from the worker that holds its lease.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] fencing token,
-- ARGV[5] percent (0-100), ARGV[6] progress data (JSON, '' for none)
-- Returns {0}, {-1} no such job, {-2} lease lost.
-- Event: progress (id, type, progress, data).
local id = ARGV[3]
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'token', 'type')
if not fields[1] then return {-1} end
if fields[1] ~= 'active' or fields[2] ~= ARGV[4] then return {-2} end
redis.call('HSET', jk, 'progress', ARGV[5], 'progress_data', ARGV[6], 'updated_at', now_ms())
emit('event', 'progress', 'id', id, 'type', fields[3], 'progress', ARGV[5], 'data', ARGV[6])
return {0}
