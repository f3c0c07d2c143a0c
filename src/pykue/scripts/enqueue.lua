-- enqueue: store new jobs as inactive (or delayed) and index them; many per call (bulk
-- adds send a few hundred at a time, so each job costs no round trip of its own).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] save token of this call, ARGV[4] how long
-- it is kept (s), ARGV[5] the jobs as one JSON array of entries [type, data (JSON text),
-- delay (ms), priority, attempts, backoff (JSON text or ''), ttl (ms, 0 none), remove
-- policy, unique key, unique window (ms, 0: while the job exists), debounce key, limit
-- key, schedule key] ('' for a key not given): one argument, not thirteen per job,
-- because encoding arguments is most of a bulk add's cost on the client.
-- A debounce key that holds a job still waiting (delayed, or inactive once its window is
-- over) and never attempted gives that job the new data instead of making a job; a
-- delayed one also waits the window again (the entry's delay).
-- The save token names this call (made when the call is first sent): the call sent
-- again, after a lost reply (by redis-py, or by a caller retrying any of its jobs,
-- which resends the whole call unchanged), finds its save token's key, creates nothing and
-- answers with the ids the first call gave and whether it created each.
-- Returns {id, event id, created} per job, flattened: created is 1 for a new job, 0 when
-- the unique key already named a job, whose id is returned, 2 when a debounce key's job
-- took the data; the event id is empty but for a new job of a call not answered from
-- its token.
-- Events: enqueue (id, type, state) per job created, debounced (id, type) per job that
-- took new data.
local token_key = save_token_key(ARGV[3])
local reply = {}
local known = redis.call('GET', token_key)
if known then
  for id, created in known:gmatch('(%d+):?(%d?)') do
    reply[#reply + 1] = tonumber(id)
    reply[#reply + 1] = ''
    reply[#reply + 1] = tonumber(created) or 0 -- an older pykue kept the ids alone
  end
  return reply
end

local now = now_ms()
local types = {} -- types of the jobs added: their idle workers get a wake-up
-- the all-jobs indexes take the call's new jobs in one ZADD each after the loop
local every, by_type = {}, {} -- score/id pairs of all jobs, and per type
local saved = {} -- 'id:created' per job, kept under the token

-- A pending job of the same debounce key takes the new data (see the header).
local function debounced(job)
  local held = redis.call('HGET', DEBOUNCE, job[11])
  if not held then return nil end
  local fields = job_fields(held, 'state', 'type', 'attempts_made') or {}
  if fields[2] ~= job[1] or (fields[1] ~= 'delayed' and fields[1] ~= 'inactive')
      or (tonumber(fields[3]) or 0) > 0 then
    return nil -- started (or retrying), ended or gone: the next save makes a new job
  end
  if fields[1] == 'inactive' then
    -- its window is over and it waits for a worker: it takes the data and keeps its place
    redis.call('HSET', job_key(held), 'data', job[2], 'updated_at', now)
  else
    unindex(held, job[1], 'delayed')
    local run_at = now + job[3]
    redis.call('HSET', job_key(held), 'data', job[2], 'run_at', run_at, 'updated_at', now)
    index(held, job[1], 'delayed', run_at)
  end
  emit('event', 'debounced', 'id', held, 'type', job[1])
  return tonumber(held)
end

local function add(job, id)
  local jtype, unique = job[1], job[9]
  if unique ~= '' then
    local existing = redis.call('HGET', UNIQUE, unique)
    if existing then
      -- a unique_for window ends the key's hold; without one it holds while the job exists
      local held = job_fields(existing, 'state', 'unique_until')
      local till = held and tonumber(held[2])
      if held and held[1] and (not till or till > now) then
        return tonumber(existing), '', 0
      end
    end
  end
  if job[11] and job[11] ~= '' then
    local held = debounced(job)
    if held then return held, '', 2 end
    redis.call('HSET', DEBOUNCE, job[11], id)
  end
  if unique ~= '' then redis.call('HSET', UNIQUE, unique, id) end
  local state = store_job(job, id, now)
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
in_slices('ZADD', ALL_JOBS, every)
for jtype, typed in pairs(by_type) do in_slices('ZADD', type_jobs_key(jtype), typed) end
for jtype in pairs(types) do
  redis.call('SADD', TYPES, jtype)
  wake(jtype)
end
return reply
