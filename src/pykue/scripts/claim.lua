-- claim: move up to COUNT inactive jobs of one type to active under a fresh lease.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] type, ARGV[4] count, ARGV[5] worker id,
-- ARGV[6] lease (ms), ARGV[7] claim request id (unique per call)
-- Returns {now, next delayed run-at (-1 if none), status, retry at, job...}; status is 0,
-- 1 when the type is paused, or Redis's error text when it refuses writes (out of memory
-- under maxmemory/noeviction, a disk error, a read-only replica): then nothing is
-- claimed. Retry at is when the type's rate window admits a start again (ms), -1 when
-- its rate does not hold the claim back.
-- Each job is {id, HGETALL of the job} with the new fencing token in its 'token' field,
-- and for a job with dependencies a third item, the HGETALL of its deps hash (the
-- results its handler reads).
-- The type's limits (keys.limits, see pykue/limits.py) bound what is taken: at most its
-- concurrency cap minus its active jobs, at most what its rate window admits; a job
-- whose limit key's window is full moves to delayed until that window admits it, and
-- the claim takes the next job instead. A claim held back by a limit is counted
-- (stats 'limited').
-- Event: start (id, type) per job.
-- A call resent with the same request id (redis-py resends after a lost reply) returns
-- the jobs the first call took, still held by this worker, instead of taking more:
-- otherwise those would sit active under a lease nobody renews and count a stall.
local jtype, count, worker, lease = ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local now = now_ms()
local next_run = redis.call('ZRANGE', state_key('delayed'), 0, 0, 'WITHSCORES')
local reply = {now, next_run[2] and tonumber(next_run[2]) or -1, 0, -1}
local memo = claim_memo_key(ARGV[7])
local taken = redis.call('LRANGE', memo, 0, -1)
if #taken > 0 then
  for _, id in ipairs(taken) do
    local jk = job_key(id)
    local held = redis.call('HMGET', jk, 'state', 'worker')
    if held[1] == 'active' and held[2] == worker then
      local entry = {id, redis.call('HGETALL', jk)}
      if redis.call('HEXISTS', jk, 'depends_on') == 1 then
        entry[3] = outcomes_of(id) -- one that is not a hash must not fail the claim
      end
      reply[#reply + 1] = entry
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

-- limits written by hand that cannot be read count as none, as limits.py reads them
local limits = {}
local stored = redis.call('HGET', LIMITS, jtype)
if stored then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' then limits = decoded end
end
local function whole(value) -- a whole number >= 1, or nil (limits.py writes no other)
  local n = tonumber(value)
  if n and n >= 1 and math.floor(n) == n then return n end
  return nil
end
local function window(spec) -- a {count, ms} pair of whole numbers, or nil
  if type(spec) ~= 'table' then return nil end
  local n, per = whole(spec[1]), whole(spec[2])
  if n and per then return n, per end
  return nil
end
local room = count
local cap = whole(limits.concurrency)
if cap then
  room = math.min(room, cap - redis.call('ZCARD', type_state_key(jtype, 'active')))
end
local rate_n, rate_per = window(limits.rate)
local rate_log = rate_key(jtype)
if rate_n then
  redis.call('ZREMRANGEBYSCORE', rate_log, '-inf', now - rate_per)
  local used = redis.call('ZCARD', rate_log)
  if used >= rate_n then
    local oldest = redis.call('ZRANGE', rate_log, 0, 0, 'WITHSCORES')
    reply[4] = tonumber(oldest[2]) + rate_per
  end
  room = math.min(room, rate_n - used)
end
if room <= 0 then
  if redis.call('ZCARD', queue) > 0 then
    bump('limited', 1)
    if reply[4] > now then
      redis.call('SET', limited_key(jtype), '1', 'PX', reply[4] - now)
    end
  end
  flush_stats()
  return reply
end

-- per limit key: starts in the key's window, read once per key
local key_n, key_per = window(limits.key_rate)
local key_used, key_first, key_parked = {}, {}, {}
local function admits(limit)
  if not key_n or not limit or limit == '' then return true end
  local log = key_rate_key(jtype, limit)
  if key_used[limit] == nil then
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - key_per)
    key_used[limit] = redis.call('ZCARD', log)
    local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
    key_first[limit] = tonumber(oldest[2]) or now
    key_parked[limit] = 0
  end
  return key_used[limit] < key_n
end
local function park(id, jk, limit)
  -- the n-th job held back for a key waits n spacings more: they come back one by one
  key_parked[limit] = key_parked[limit] + 1
  local run_at = key_first[limit] + key_per + math.floor((key_parked[limit] - 1) * key_per / key_n)
  redis.call('HSET', jk, 'state', 'delayed', 'run_at', run_at, 'updated_at', now)
  index(id, jtype, 'delayed', run_at)
  reply[2] = reply[2] < 0 and run_at or math.min(reply[2], run_at)
end

-- Per job only what cannot be shared: read, write and announce it. The index moves
-- are one variadic call each for the whole batch.
local ids, active, leases, popped, held_back = {}, {}, {}, {}, false
local scanned = 0
while #ids < room and scanned < room + 1000 do
  local batch = redis.call('ZPOPMIN', queue, room - #ids)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local id = batch[i]
    popped[#popped + 1] = id
    scanned = scanned + 1
    local jk = job_key(id)
    local h = redis.pcall('HGETALL', jk)
    if h.err then h = {} end -- not a hash (overwritten by hand): no job to run, dropped
    local updated, token, htype, limit, linked = now, 0, nil, nil, false
    for k = 1, #h, 2 do
      if h[k] == 'updated_at' then updated = tonumber(h[k + 1]) or now
      elseif h[k] == 'token' then token = tonumber(h[k + 1]) or 0
      elseif h[k] == 'type' then htype = h[k + 1]
      elseif h[k] == 'limit_key' then limit = h[k + 1]
      elseif h[k] == 'depends_on' then linked = true end
    end
    if #h > 0 and not admits(limit) then
      park(id, jk, limit)
      held_back = true
    elseif #h > 0 then
      if limit and key_used[limit] then
        key_used[limit] = key_used[limit] + 1
        redis.call('ZADD', key_rate_key(jtype, limit), now, id .. ':' .. (token + 1))
        redis.call('PEXPIRE', key_rate_key(jtype, limit), key_per)
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
      reply[#reply + 1] = linked and {id, h, outcomes_of(id)} or {id, h}
      ids[#ids + 1] = id
      active[#active + 1] = id
      active[#active + 1] = id
      leases[#leases + 1] = now + lease
      leases[#leases + 1] = id
      if rate_n then redis.call('ZADD', rate_log, now, id .. ':' .. token) end
    end
  end
end
if held_back then bump('limited', 1) end
if rate_n and #ids > 0 then redis.call('PEXPIRE', rate_log, rate_per) end
in_slices('ZREM', state_key('inactive'), popped)
if #ids > 0 then
  in_slices('ZADD', state_key('active'), active)
  in_slices('ZADD', type_state_key(jtype, 'active'), active)
  in_slices('ZADD', LEASES, leases)
  in_slices('RPUSH', memo, ids)
  redis.call('PEXPIRE', memo, lease)
end
if #popped > 0 and redis.call('ZCARD', queue) > 0 then wake(jtype) end
flush_stats()
return reply
