-- release: a worker shutting down hands an unfinished job back to inactive without
-- counting an attempt or a stall.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] fencing token
-- Returns {0} released, {-1} no such job, {-2} lease lost.
-- Event: released (id, type).
local id = ARGV[3]
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'token', 'type', 'priority')
if not fields[1] then return {-1} end
if fields[1] ~= 'active' or fields[2] ~= ARGV[4] then return {-2} end
unindex(id, fields[3], 'active')
redis.call('HINCRBY', jk, 'token', 1)
make_inactive(id, fields[3], fields[4], now_ms())
emit('event', 'released', 'id', id, 'type', fields[3])
return {0}
