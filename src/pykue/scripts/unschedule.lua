-- unschedule: remove a schedule; jobs it made are left as they are.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] schedule key
-- Returns {1} removed, {0} no such schedule.
-- Event: unschedule (type, key).
local key = ARGV[3]
local spec = redis.call('HGET', SCHEDULES, key)
if not spec then return {0} end
redis.call('HDEL', SCHEDULES, key)
redis.call('ZREM', SCHEDULES_DUE, key)
redis.call('HDEL', SCHEDULE_RUNS, key)
local ok, decoded = pcall(cjson.decode, spec)
local jtype = ok and type(decoded) == 'table' and type(decoded['type']) == 'string' and decoded['type'] or ''
emit('event', 'unschedule', 'type', jtype, 'key', key)
return {1}
