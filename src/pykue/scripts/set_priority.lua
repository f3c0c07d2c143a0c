-- set_priority: change a job's priority (Kue's PUT /job/:id/priority/:priority).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] priority (int, checked by
-- the caller). Returns {0} done, {-1} no such job.
-- A waiting (inactive) job takes its new place in the claim order at once.
-- Event: priority (id, type, priority).
local id, priority = ARGV[3], tonumber(ARGV[4])
local jk = job_key(id)
local fields = redis.call('HMGET', jk, 'state', 'type')
local state, jtype = fields[1], fields[2]
if not state then return {-1} end
redis.call('HSET', jk, 'priority', priority) -- updated_at is kept: it times the wait
if state == 'inactive' then
  redis.call('ZADD', type_state_key(jtype, 'inactive'), priority * INACTIVE_WEIGHT + id, id)
end
emit('event', 'priority', 'id', id, 'type', jtype, 'priority', priority)
return {0}
