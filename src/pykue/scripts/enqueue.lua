-- enqueue: store new jobs as inactive (or delayed) and index them; many per call (bulk
-- adds send a few hundred at a time, so each job costs no round trip of its own).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] save token of this call, ARGV[4] how long
-- it is kept (s), ARGV[5] the jobs as one JSON array of [type, data (JSON text), delay
-- (ms), priority, attempts, backoff (JSON text or ''), ttl (ms, 0 none), remove policy,
-- unique key ('' none)]: one argument, not nine per job, because encoding arguments is
-- most of a bulk add's cost on the client.
-- The save token names this call (made when the call is first sent): the call sent
-- again, after a lost reply (by redis-py, or by a caller retrying any of its jobs,
-- which resends the whole call unchanged), finds its save token's key, creates nothing and
-- answers with the ids the first call gave and whether it created each.
-- Returns {id, event id, created} per job, flattened: created is 0 when the unique key
-- already named a job, whose id is returned; the event id is empty for such a job and
-- for every job of a call answered from its token.
-- Event: enqueue (id, type, state) per job created.
local token_key = save_token_key(ARGV[3])
local reply = {}
local known = redis.call('GET', token_key)
if known then
  for id, created in known:gmatch('(%d+):?(%d?)') do
    reply[#reply + 1] = tonumber(id)
    reply[#reply + 1] = ''
    reply[#reply + 1] = created == '1' and 1 or 0 -- an older pykue kept the ids alone
  end
  return reply
end

local now = now_ms()
local types = {} -- types of the jobs added: their idle workers get a wake-up
-- the all-jobs indexes take the call's new jobs in one ZADD each after the loop
local every, by_type = {}, {} -- score/id pairs of all jobs, and per type
local saved = {} -- 'id:created' per job, kept under the token

local function add(job, id)
  local jtype, delay, priority, unique = job[1], job[3], job[4], job[9]
  if unique ~= '' then
    local existing = redis.call('HGET', UNIQUE, unique)
    if existing and redis.call('EXISTS', job_key(existing)) == 1 then
      return tonumber(existing), '', 0
    end
  end

  local jk = job_key(id)
  if unique ~= '' then redis.call('HSET', UNIQUE, unique, id) end
  local state = delay > 0 and 'delayed' or 'inactive'
  -- zero counters and empty options are left out (readers default them): a smaller
  -- hash is quicker to write and to keep
  redis.call('HSET', jk, 'type', jtype, 'data', job[2], 'state', state, 'priority', priority,
    'attempts', job[5], 'created_at', now, 'updated_at', now)
  if job[6] ~= '' then redis.call('HSET', jk, 'backoff', job[6]) end
  if job[7] ~= 0 then redis.call('HSET', jk, 'ttl', job[7]) end
  if job[8] ~= '' then redis.call('HSET', jk, 'remove', job[8]) end
  if unique ~= '' then redis.call('HSET', jk, 'unique', unique) end
  if delay > 0 then
    redis.call('HSET', jk, 'run_at', now + delay)
    index(id, jtype, state, now + delay)
  else
    redis.call('ZADD', state_key('inactive'), id, id)
    redis.call('ZADD', type_state_key(jtype, 'inactive'), priority * INACTIVE_WEIGHT + id, id)
  end
  types[jtype] = true -- a delayed job wakes them too: they must learn of its deadline
  local typed = by_type[jtype] or {}
  by_type[jtype] = typed
  every[#every + 1] = id
  every[#every + 1] = id
  typed[#typed + 1] = id
  typed[#typed + 1] = id
  return id, emit('event', 'enqueue', 'id', id, 'type', jtype, 'state', state), 1
end

local jobs = cjson.decode(ARGV[5])
-- one id per job, taken at once; a duplicate (unique key) leaves its id unused
local first = redis.call('INCRBY', IDS, #jobs) - #jobs
for i, job in ipairs(jobs) do
  local id, eid, created = add(job, first + i)
  reply[#reply + 1] = id
  reply[#reply + 1] = eid
  reply[#reply + 1] = created
  saved[#saved + 1] = id .. ':' .. created
end
redis.call('SET', token_key, table.concat(saved, ','), 'EX', ARGV[4])
-- in slices: unpack is bounded by Lua's C stack (about 8000 values)
local function index_all(key, members)
  for i = 1, #members, 2000 do
    redis.call('ZADD', key, unpack(members, i, math.min(i + 1999, #members)))
  end
end
index_all(ALL_JOBS, every)
for jtype, typed in pairs(by_type) do index_all(type_jobs_key(jtype), typed) end
for jtype in pairs(types) do
  redis.call('SADD', TYPES, jtype)
  wake(jtype)
end
return reply
