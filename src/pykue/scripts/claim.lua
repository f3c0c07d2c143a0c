-- claim: move up to COUNT inactive jobs of one type to active under a fresh lease.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] type, ARGV[4] count, ARGV[5] worker id,
-- ARGV[6] lease (ms), ARGV[7] claim request id (unique per call)
-- Returns {now, next delayed run-at (-1 if none), paused (0/1), job...}; each job is
-- {id, HGETALL of the job} with the new fencing token in its 'token' field.
-- Event: start (id, type) per job.
-- A call resent with the same request id (redis-py resends after a lost reply) returns
-- the jobs the first call took, still held by this worker, instead of taking more:
-- otherwise those would sit active under a lease nobody renews and count a stall.
local jtype, count, worker, lease = ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local now = now_ms()
local next_run = redis.call('ZRANGE', state_key('delayed'), 0, 0, 'WITHSCORES')
local reply = {now, next_run[2] and tonumber(next_run[2]) or -1, 0}
local memo = BASE .. ':claim:' .. ARGV[7]
local taken = redis.call('LRANGE', memo, 0, -1)
if #taken > 0 then
  for _, id in ipairs(taken) do
    local jk = job_key(id)
    local held = redis.call('HMGET', jk, 'state', 'worker')
    if held[1] == 'active' and held[2] == worker then
      reply[#reply + 1] = {id, redis.call('HGETALL', jk)}
    end
  end
  return reply
end
if redis.call('SISMEMBER', PAUSED, jtype) == 1 then
  reply[3] = 1
  return reply
end
local queue = type_state_key(jtype, 'inactive')
local popped = redis.call('ZPOPMIN', queue, count)
for i = 1, #popped, 2 do
  local id = popped[i]
  local jk = job_key(id)
  observe('latency', math.max(0, now - (tonumber(redis.call('HGET', jk, 'updated_at')) or now)))
  redis.call('ZREM', state_key('inactive'), id)
  index(id, jtype, 'active', id)
  redis.call('ZADD', LEASES, now + lease, id)
  redis.call('HINCRBY', jk, 'token', 1)
  redis.call('HSET', jk, 'state', 'active', 'started_at', now, 'updated_at', now, 'worker', worker)
  emit('event', 'start', 'id', id, 'type', jtype)
  reply[#reply + 1] = {id, redis.call('HGETALL', jk)}
end
if #popped > 0 then
  for i = 1, #popped, 2 do redis.call('RPUSH', memo, popped[i]) end
  redis.call('PEXPIRE', memo, lease)
  if redis.call('ZCARD', queue) > 0 then wake(jtype) end
end
return reply
