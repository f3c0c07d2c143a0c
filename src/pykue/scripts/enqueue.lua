-- enqueue: store a new job as inactive (or delayed) and index it.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] save token, ARGV[4] token ttl (s),
-- ARGV[5] type, ARGV[6] data (JSON), ARGV[7] delay (ms), then field/value pairs of options.
-- Returns {id, event id, created}: created is 0 when the save token or the unique key
-- already names a job (a retried save, or a duplicate), and that job's id is returned.
-- Event: enqueue (id, type, state).
local token_key = BASE .. ':save:' .. ARGV[3]
local known = redis.call('GET', token_key)
if known then return {tonumber(known), '', 0} end

local jtype, delay = ARGV[5], tonumber(ARGV[7])
local fields = {}
local unique, priority = '', 0
for i = 8, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  if ARGV[i] == 'unique' then unique = ARGV[i + 1] end
  if ARGV[i] == 'priority' then priority = tonumber(ARGV[i + 1]) end
end

if unique ~= '' then
  local existing = redis.call('HGET', UNIQUE, unique)
  if existing and redis.call('EXISTS', job_key(existing)) == 1 then
    redis.call('SET', token_key, existing, 'EX', ARGV[4])
    return {tonumber(existing), '', 0}
  end
end

local id = redis.call('INCR', BASE .. ':ids')
local now = now_ms()
local jk = job_key(id)
redis.call('HSET', jk, 'id', id, 'type', jtype, 'data', ARGV[6], 'attempts_made', 0,
  'stalls', 0, 'progress', 0, 'token', 0, 'created_at', now, 'updated_at', now, unpack(fields))
redis.call('SADD', BASE .. ':types', jtype)
local state = 'inactive'
if delay > 0 then
  state = 'delayed'
  redis.call('HSET', jk, 'state', state, 'run_at', now + delay)
  index(id, jtype, state, now + delay)
  wake(jtype) -- an idle worker must learn of the earlier deadline
else
  make_inactive(id, jtype, priority, now)
end
if unique ~= '' then redis.call('HSET', UNIQUE, unique, id) end
redis.call('SET', token_key, id, 'EX', ARGV[4])
local eid = emit('event', 'enqueue', 'id', id, 'type', jtype, 'state', state)
return {id, eid, 1}
