-- claim: move up to COUNT inactive jobs of one type to active under a fresh lease.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] type, ARGV[4] count, ARGV[5] worker id,
-- ARGV[6] lease (ms), ARGV[7] claim request id (unique per call)
-- Returns {now, next delayed run-at (-1 if none), status, job...}; status is 0, 1 when
-- the type is paused, or Redis's error text when it refuses writes (out of memory under
-- maxmemory/noeviction, a disk error, a read-only replica): then nothing is claimed.
-- Each job is {id, HGETALL of the job} with the new fencing token in its 'token' field.
-- Event: start (id, type) per job.
-- A call resent with the same request id (redis-py resends after a lost reply) returns
-- the jobs the first call took, still held by this worker, instead of taking more:
-- otherwise those would sit active under a lease nobody renews and count a stall.
local jtype, count, worker, lease = ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local now = now_ms()
local next_run = redis.call('ZRANGE', state_key('delayed'), 0, 0, 'WITHSCORES')
local reply = {now, next_run[2] and tonumber(next_run[2]) or -1, 0}
local memo = claim_memo_key(ARGV[7])
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
-- Redis out of memory (noeviction) allows ZPOPMIN but refuses the HSET of every
-- completion: jobs claimed now would run and then never end. An empty SETRANGE on the
-- (absent) memo changes nothing but is refused like any write that may add memory, so
-- the claim takes nothing until the job could be completed. (Redis checks memory only
-- before a script's first write; this one must come first.)
local writable = redis.pcall('SETRANGE', memo, 0, '')
if type(writable) == 'table' and writable.err then
  reply[3] = writable.err
  return reply
end
local queue = type_state_key(jtype, 'inactive')
local popped = redis.call('ZPOPMIN', queue, count)
-- Per job only what cannot be shared: read, write and announce it. The index moves
-- are one variadic call each for the whole batch.
local ids, active, leases = {}, {}, {}
for i = 1, #popped, 2 do
  local id = popped[i]
  local jk = job_key(id)
  local h = redis.pcall('HGETALL', jk)
  if h.err then h = {} end -- not a hash (overwritten by hand): no job to run, dropped
  if #h > 0 then
    local updated, token, htype = now, 0, nil
    for k = 1, #h, 2 do
      if h[k] == 'updated_at' then updated = tonumber(h[k + 1]) or now
      elseif h[k] == 'token' then token = tonumber(h[k + 1]) or 0
      elseif h[k] == 'type' then htype = h[k + 1] end
    end
    observe('latency', math.max(0, now - updated))
    token = token + 1
    redis.call('HSET', jk, 'state', 'active', 'started_at', now, 'updated_at', now,
      'worker', worker, 'token', token)
    -- the index it was claimed from decides its type: fail and recover_stalled move a
    -- job by the type its hash names, so a hash naming another type (or none: written
    -- by hand) is mended here, and the reply keeps what it named, for the worker to
    -- fail the job as corrupt
    if htype ~= jtype then redis.call('HSET', jk, 'type', jtype) end
    emit('event', 'start', 'id', id, 'type', jtype)
    -- the hash as it is now: the fields just written are appended, and a reader
    -- building a map from the pairs keeps the last value of each
    for _, v in ipairs({'state', 'active', 'started_at', tostring(now), 'updated_at',
        tostring(now), 'worker', worker, 'token', tostring(token)}) do
      h[#h + 1] = v
    end
    reply[#reply + 1] = {id, h}
    ids[#ids + 1] = id
    active[#active + 1] = id
    active[#active + 1] = id
    leases[#leases + 1] = now + lease
    leases[#leases + 1] = id
  end
end
if #popped > 0 then
  local gone = {}
  for i = 1, #popped, 2 do gone[#gone + 1] = popped[i] end
  redis.call('ZREM', state_key('inactive'), unpack(gone))
end
if #ids > 0 then
  redis.call('ZADD', state_key('active'), unpack(active))
  redis.call('ZADD', type_state_key(jtype, 'active'), unpack(active))
  redis.call('ZADD', LEASES, unpack(leases))
  redis.call('RPUSH', memo, unpack(ids))
  redis.call('PEXPIRE', memo, lease)
end
if #popped > 0 and redis.call('ZCARD', queue) > 0 then wake(jtype) end
flush_stats()
return reply
