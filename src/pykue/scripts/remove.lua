-- remove: delete a job in any state, with its log, errors and index entries.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id
-- Returns {0} removed or {-1} no such job. A worker running it loses its lease.
-- Event: remove (id, type).
local id = ARGV[3]
local fields = redis.call('HMGET', job_key(id), 'state', 'type')
if not fields[1] then return {-1} end
unindex(id, fields[2], fields[1])
drop(id)
emit('event', 'remove', 'id', id, 'type', fields[2])
return {0}
