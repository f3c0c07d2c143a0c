-- enqueue: store new jobs as inactive (or delayed) and index them; many per call (bulk
-- adds send a few hundred at a time, so each job costs no round trip of its own).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] save token of this call, ARGV[4] how long
-- it is kept (s), ARGV[5] the jobs as one JSON array of entries [type, data (JSON text),
-- delay (ms), priority, attempts, backoff (JSON text or ''), ttl (ms, 0 none), remove
-- policy, unique key, unique window (ms, 0: while the job exists), debounce key, limit
-- key, schedule key, dependencies, dependency failure policy] ('' for a key not given;
-- the last two are left out by a job without dependencies): one argument, not fifteen
-- per job, because encoding arguments is most of a bulk add's cost on the client.
-- Dependencies are ids, or minus the 1-based place in this call of a job saved with it
-- (which comes before its dependents). A job with dependencies not all done is stored
-- waiting (see _common.lua's dependency helpers); one whose dependency already failed
-- for good, under the 'fail' policy, is stored failed.
-- A debounce key that holds a job still waiting (delayed, or inactive once its window is
-- over) and never attempted gives that job the new data instead of making a job; a
-- delayed one also waits the window again (the entry's delay).
-- The save token names this call (made when the call is first sent): the call sent
-- again, after a lost reply (by redis-py, or by a caller retrying any of its jobs,
-- which resends the whole call unchanged), finds its save token's key, creates nothing and
-- answers with the ids the first call gave and whether it created each.
-- Returns {id, event id, created, state, pending} per job, flattened: created is 1 for a
-- new job, 0 when the unique key already named a job, whose id is returned, 2 when a
-- debounce key's job took the data; the event id and state are empty, and pending (its
-- dependencies not done) 0, but for a new job of a call not answered from its token. Or, with nothing written, {-5, id} when a dependency id
-- names no job, {-6, 0} when dependencies would nest deeper than MAX_DEPTH, {-7, id}
-- when job id would get more than MAX_DEPENDENTS dependents.
-- Events: enqueue (id, type, state) per job created, debounced (id, type) per job that
-- took new data, failed (id, type, error) per job stored failed.
local token_key = save_token_key(ARGV[3])
local reply = {}
local known = redis.call('GET', token_key)
if known then
  for id, created in known:gmatch('(%d+):?(%d?)') do
    reply[#reply + 1] = tonumber(id)
    reply[#reply + 1] = ''
    reply[#reply + 1] = tonumber(created) or 0 -- an older pykue kept the ids alone
    reply[#reply + 1] = ''
    reply[#reply + 1] = 0
  end
  return reply
end

local jobs = cjson.decode(ARGV[5])
-- Dependencies are checked before anything is written: each id must name a job, no
-- job may sit deeper than MAX_DEPTH (a job's 'depth': the longest path below it), and
-- no job may get more than MAX_DEPENDENTS dependents.
local depth, adding = {}, {}
for i, job in ipairs(jobs) do
  local deepest = 0
  if type(job[14]) == 'table' then
    for _, dep in ipairs(job[14]) do
      local below
      if dep < 0 then
        below = depth[-dep] or 0
      else
        local fields = job_fields(dep, 'type', 'depth')
        if not fields or not fields[1] then return {-5, dep} end
        below = tonumber(fields[2]) or 0
        if not adding[dep] then
          local has = redis.pcall('SCARD', dependents_key(dep))
          adding[dep] = type(has) == 'number' and has or 0
        end
        adding[dep] = adding[dep] + 1
        if adding[dep] > MAX_DEPENDENTS then return {-7, dep} end
      end
      deepest = math.max(deepest, below + 1)
    end
  end
  if deepest > MAX_DEPTH then return {-6, 0} end
  depth[i] = deepest
end

local now = now_ms()
local types = {} -- types of the jobs added: their idle workers get a wake-up
-- the all-jobs indexes take the call's new jobs in one ZADD each after the loop
local every, by_type = {}, {} -- score/id pairs of all jobs, and per type
local saved = {} -- 'id:created' per job, kept under the token
local place = 0 -- the place in the call of the job being added

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

-- The dependencies of new job ``id``, resolved to ids (``given``: the ids this call's
-- jobs got so far): each learns of it, and what is already done is recorded. Returns the
-- state that holds the job (nil: none), the dependency that failed it, and why.
local function link(job, id, given)
  local ids, pending, failed_by, why = {}, 0, nil, nil
  local policy = job[15] or ''
  local seen = {}
  for _, dep in ipairs(job[14]) do
    dep = dep < 0 and given[-dep] or dep
    -- two entries can name one job once ids are known (a unique key's job): linked once
    if not seen[dep] then
      seen[dep] = true
      ids[#ids + 1] = dep
      local dk = dependents_key(dep)
      if type(redis.pcall('SADD', dk, id)) == 'table' then -- not a set (by hand): made again
        redis.call('DEL', dk)
        redis.call('SADD', dk, id)
      end
      redis.call('HSET', job_key(dep), 'dependents', '1')
      local fields = job_fields(dep, 'state', 'result', 'error')
      local state = fields and fields[1]
      if state == 'complete' then
        redis.call('HSET', deps_key(id), dep, 'c' .. (fields[2] or 'null'))
      elseif state == 'failed' and policy == 'ignore' then
        redis.call('HSET', deps_key(id), dep, 'i' .. (fields[3] or HAND_FAILED))
      else
        pending = pending + 1
        if state == 'failed' then
          redis.call('HSET', deps_key(id), dep, 'f' .. (fields[3] or HAND_FAILED))
          if policy == '' and not failed_by then
            failed_by, why = dep, 'dependency ' .. dep .. ' failed: ' .. (fields[3] or HAND_FAILED)
          end
        end
      end
    end
  end
  return ids, pending, failed_by, why
end

local function add(job, id, given)
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
  local ids, pending, failed_by, why
  local held = nil
  if type(job[14]) == 'table' and #job[14] > 0 then
    ids, pending, failed_by, why = link(job, id, given)
    held = failed_by and 'failed' or (pending > 0 and 'waiting' or nil)
  end
  local state = store_job(job, id, now, held)
  if ids then
    local jk = job_key(id)
    redis.call('HSET', jk, 'depends_on', table.concat(ids, ','), 'pending', pending,
      'depth', depth[place])
    if job[15] and job[15] ~= '' then redis.call('HSET', jk, 'on_dep_fail', job[15]) end
    if failed_by then
      redis.call('HSET', jk, 'error', why, 'failed_by', failed_by, 'failed_at', now)
      redis.call('RPUSH', errors_key(id),
        cjson.encode({attempt = 0, error = why, traceback = '', at = now}))
      bump('failed', 1)
      count_minute(now, 'failed')
    end
  end
  types[jtype] = true -- a delayed job wakes them too: they must learn of its deadline
  local typed = by_type[jtype] or {}
  by_type[jtype] = typed
  every[#every + 1] = id
  every[#every + 1] = id
  typed[#typed + 1] = id
  typed[#typed + 1] = id
  local eid = emit('event', 'enqueue', 'id', id, 'type', jtype, 'state', state)
  if failed_by then emit('event', 'failed', 'id', id, 'type', jtype, 'error', why) end
  return id, eid, 1, state, pending or 0
end

-- one id per job, taken at once; a duplicate (unique key) leaves its id unused
local first = redis.call('INCRBY', IDS, #jobs) - #jobs
local given = {} -- place in this call -> the id its job has (a unique key's: the other's)
for i, job in ipairs(jobs) do
  place = i
  local id, eid, created, state, pending = add(job, first + i, given)
  given[i] = id
  reply[#reply + 1] = id
  reply[#reply + 1] = eid
  reply[#reply + 1] = created
  reply[#reply + 1] = state or ''
  reply[#reply + 1] = pending or 0
  saved[#saved + 1] = id .. ':' .. created
end
redis.call('SET', token_key, table.concat(saved, ','), 'EX', ARGV[4])
in_slices('ZADD', ALL_JOBS, every)
for jtype, typed in pairs(by_type) do in_slices('ZADD', type_jobs_key(jtype), typed) end
for jtype in pairs(types) do
  redis.call('SADD', TYPES, jtype)
  wake(jtype)
end
flush_stats()
return reply
