-- Shared helpers, prepended to every script by scripts/loader.py (never run alone),
-- after the prelude it writes from pykue/keys.py and pykue/stats.py: BASE, EVENTS and
-- MAXLEN (the call's head: ARGV[1], KEYS[1], ARGV[2]), one constant per fixed key
-- (LEASES, PAUSED, ...) and one function per key built from arguments (job_key(id),
-- state_key(state), ...), INACTIVE_WEIGHT and the histogram BUCKETS. No script spells
-- a key name: all come from there, under the base's hash tag.

-- HMGET of a job's fields, or nil when its key is not a hash (overwritten by hand or by
-- another tool): one such key must not make every call that meets it fail.
local function job_fields(id, ...)
  local fields = redis.pcall('HMGET', job_key(id), ...)
  if fields.err then return nil end
  return fields
end

-- Redis's clock, not the caller's: leases and delays must not depend on worker clocks.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function emit(...)
  return redis.call('XADD', EVENTS, 'MAXLEN', '~', MAXLEN, '*', ...)
end

-- One marker is enough to wake one idle worker; the claimer re-arms it if work remains.
-- A type whose rate window is full wakes nobody: its workers sleep until the window
-- admits again (claim.lua sets the marker for that long), however fast jobs arrive.
local function wake(jtype)
  if redis.call('SISMEMBER', PAUSED, jtype) == 1 then return end
  if redis.call('EXISTS', limited_key(jtype)) == 1 then return end
  local marker = wake_key(jtype)
  if redis.call('LLEN', marker) == 0 then redis.call('RPUSH', marker, '1') end
end

-- A job of a type with a concurrency cap stopped running: a worker idle because of
-- the cap may claim now (the cap counts the type's active index, so it frees itself).
local function slot_freed(jtype)
  if redis.call('HEXISTS', LIMITS, jtype) == 1
      and redis.call('ZCARD', type_state_key(jtype, 'inactive')) > 0 then
    wake(jtype)
  end
end

local function unindex(id, jtype, state)
  redis.call('ZREM', state_key(state), id)
  redis.call('ZREM', type_state_key(jtype, state), id)
  if state == 'active' then
    redis.call('ZREM', LEASES, id)
    slot_freed(jtype)
  end
end

local function index(id, jtype, state, score)
  redis.call('ZADD', state_key(state), score, id)
  redis.call('ZADD', type_state_key(jtype, state), score, id)
end

local function make_inactive(id, jtype, priority, now)
  redis.call('ZADD', state_key('inactive'), id, id)
  local rank = (tonumber(priority) or 0) * INACTIVE_WEIGHT + id -- a hand-written priority may not be a number
  redis.call('ZADD', type_state_key(jtype, 'inactive'), rank, id)
  redis.call('HSET', job_key(id), 'state', 'inactive', 'updated_at', now)
  wake(jtype)
end

-- Statistics are summed in Lua and written once per script call (flush_stats), not
-- once per job: a batch of 500 completions would otherwise spend most of its time on
-- HINCRBYs of the same few fields.
local stat_sums = {}   -- field of STATS -> increment
local minute_sums = {} -- minute key -> {outcome -> increment}

local function bump(field, n)
  stat_sums[field] = (stat_sums[field] or 0) + n
end

-- Count ``ms`` into histogram ``name``. Buckets are stored one by one (not cumulative):
-- readers add them up.
local function observe(name, ms)
  bump(name .. '_count', 1)
  bump(name .. '_sum', ms)
  for _, bound in ipairs(BUCKETS) do
    if ms <= bound then
      bump(name .. '_le_' .. bound, 1)
      return
    end
  end
end

-- Per-minute outcome counters for the dashboard's last-hour charts; they expire.
local function count_minute(now, outcome)
  local key = minute_key(math.floor(now / 60000))
  local sums = minute_sums[key] or {}
  minute_sums[key] = sums
  sums[outcome] = (sums[outcome] or 0) + 1
end

local function flush_stats()
  for field, n in pairs(stat_sums) do redis.call('HINCRBY', STATS, field, n) end
  for key, sums in pairs(minute_sums) do
    for outcome, n in pairs(sums) do redis.call('HINCRBY', key, outcome, n) end
    redis.call('EXPIRE', key, 7200)
  end
end

-- Delete a job and everything hanging off it, and take it out of the all-jobs indexes
-- (its state index entries are the caller's job).
local function drop(id)
  local jk = job_key(id)
  local fields = redis.call('HMGET', jk, 'unique', 'type', 'debounce', 'depends_on')
  local unique, debounce = fields[1], fields[3]
  if fields[4] then
    for dep in fields[4]:gmatch('%d+') do redis.pcall('SREM', dependents_key(dep), id) end
  end
  redis.call('ZREM', ALL_JOBS, id)
  if fields[2] then redis.call('ZREM', type_jobs_key(fields[2]), id) end
  if unique and unique ~= '' and redis.call('HGET', UNIQUE, unique) == tostring(id) then
    redis.call('HDEL', UNIQUE, unique)
  end
  if debounce and debounce ~= '' and redis.call('HGET', DEBOUNCE, debounce) == tostring(id) then
    redis.call('HDEL', DEBOUNCE, debounce)
  end
  redis.call('DEL', jk, log_key(id), errors_key(id), deps_key(id), dependents_key(id))
end


-- Store one new job under ``id`` (``job``: enqueue.lua's entry, see its header) and put
-- it in its state's indexes: ``held`` ('waiting', 'failed') when its dependencies hold
-- it (then a delay is kept for its release), else inactive or delayed. The all-jobs
-- indexes, TYPES and the wake-up are the caller's. Returns its state.
local function store_job(job, id, now, held)
  local jtype, delay, priority = job[1], job[3], job[4]
  local jk = job_key(id)
  local state = held or (delay > 0 and 'delayed' or 'inactive')
  -- zero counters and empty options are left out (readers default them): a smaller
  -- hash is quicker to write and to keep
  redis.call('HSET', jk, 'type', jtype, 'data', job[2], 'state', state, 'priority', priority,
    'attempts', job[5], 'created_at', now, 'updated_at', now)
  if job[6] ~= '' then redis.call('HSET', jk, 'backoff', job[6]) end
  if job[7] ~= 0 then redis.call('HSET', jk, 'ttl', job[7]) end
  if job[8] ~= '' then redis.call('HSET', jk, 'remove', job[8]) end
  if job[9] ~= '' then redis.call('HSET', jk, 'unique', job[9]) end
  -- the entry's later fields may be missing (an entry of nine, as pykue wrote before them)
  if (tonumber(job[10]) or 0) > 0 then redis.call('HSET', jk, 'unique_until', now + job[10]) end
  for place, field in pairs({[11] = 'debounce', [12] = 'limit_key', [13] = 'schedule'}) do
    if job[place] and job[place] ~= '' then redis.call('HSET', jk, field, job[place]) end
  end
  if held then
    if delay > 0 then redis.call('HSET', jk, 'delay', delay) end
    index(id, jtype, state, held == 'waiting' and id or now)
  elseif delay > 0 then
    redis.call('HSET', jk, 'run_at', now + delay)
    index(id, jtype, state, now + delay)
  else
    redis.call('ZADD', state_key('inactive'), id, id)
    redis.call('ZADD', type_state_key(jtype, 'inactive'), priority * INACTIVE_WEIGHT + id, id)
  end
  return state
end

-- A variadic command on ``key`` with ``values``, in slices: unpack is bounded by Lua's C
-- stack (about 8,000 values), and a script that errs midway keeps what it wrote before.
-- Slices are even-sized, so score/member pairs stay together.
local function in_slices(command, key, values)
  for i = 1, #values, 2000 do
    redis.call(command, key, unpack(values, i, math.min(i + 1999, #values)))
  end
end

-- Dependencies (pykue/flows.py). A dependent's deps hash holds one outcome per
-- dependency that ended: a tag, then the result or error. 'c' completed, 'i' failed
-- but ignored (on_dep_fail 'ignore') and 'r' removed count as done; 'f' failed does
-- not (the dependent failed with it, or waits for a retry). Its 'pending' field counts
-- the dependencies not done: the call that makes it 0 releases the job. A job failed
-- without an error was failed by hand (set_state): HAND_FAILED says so to dependents.
local function done(outcome)
  local tag = outcome and outcome:sub(1, 1)
  return tag == 'c' or tag == 'i' or tag == 'r'
end

-- A waiting job whose dependencies are all done: it runs now, or after its delay.
local function release(id, jtype, now)
  local jk = job_key(id)
  unindex(id, jtype, 'waiting')
  local fields = redis.call('HMGET', jk, 'delay', 'priority')
  local delay, state = tonumber(fields[1]) or 0, 'inactive'
  if delay > 0 then
    state = 'delayed'
    redis.call('HSET', jk, 'state', 'delayed', 'run_at', now + delay, 'updated_at', now)
    index(id, jtype, 'delayed', now + delay)
    wake(jtype)
  else
    make_inactive(id, jtype, fields[2], now)
  end
  emit('event', 'ready', 'id', id, 'type', jtype, 'state', state)
end

-- The members of set ``key``; none when it is not a set (written by hand): the call
-- that ends a job must not fail halfway over one such key, keeping half its writes.
local function members(key)
  local found = redis.pcall('SMEMBERS', key)
  if found.err then return {} end
  return found
end

-- The deps hash of ``id`` as HGETALL gives it; one that is not a hash (written by hand)
-- is dropped, and counts as empty.
local function outcomes_of(id)
  local found = redis.pcall('HGETALL', deps_key(id))
  if found.err then
    redis.call('DEL', deps_key(id))
    return {}
  end
  return found
end

-- 'pending' counted again from the job's depends_on and deps hash, for a field that is
-- not a count (written by hand); what is not an id in depends_on counts for nothing.
local function recount(id)
  local listed = job_fields(id, 'depends_on')
  local outcomes, ended, left = outcomes_of(id), {}, 0
  for i = 1, #outcomes, 2 do ended[outcomes[i]] = done(outcomes[i + 1]) end
  for dep in (listed and listed[1] or ''):gmatch('[^,]+') do
    if dep:match('^%d+$') and not ended[dep] then left = left + 1 end
  end
  redis.call('HSET', job_key(id), 'pending', left)
  return left
end

-- What dependent ``id``'s deps hash holds for dependency ``dep``, nil if nothing; a key
-- that is not a hash (written by hand) is dropped, and held nothing.
local function outcome_in(id, dep)
  local found = redis.pcall('HGET', deps_key(id), dep)
  if type(found) == 'table' then
    redis.call('DEL', deps_key(id))
    return nil
  end
  return found or nil
end

-- Record ``outcome`` of dependency ``dep`` in dependent ``id``. Returns whether the
-- dependency still held it (no done outcome before: only then can its failure fail
-- the dependent), and whether this made the last one done. A done outcome is replaced
-- only by a completion (a dependency failed but ignored, set complete by hand later).
local function record(id, dep, outcome)
  local dk = deps_key(id)
  local before = outcome_in(id, dep)
  if done(before) then
    if outcome:sub(1, 1) == 'c' then redis.call('HSET', dk, dep, outcome) end
    return false, false
  end
  redis.call('HSET', dk, dep, outcome)
  if not done(outcome) then return true, false end
  local left = redis.pcall('HINCRBY', job_key(id), 'pending', -1)
  if type(left) ~= 'number' then left = recount(id) end
  return true, left <= 0
end

-- Dependency ``dep`` completed with ``result``: its dependents record it, and those
-- waiting for nothing else are released.
local function dependency_complete(dep, result, now)
  for _, id in ipairs(members(dependents_key(dep))) do
    local fields = job_fields(id, 'state', 'type')
    if fields and fields[2] then
      local _, released = record(id, dep, 'c' .. result)
      if released and fields[1] == 'waiting' then release(id, fields[2], now) end
    end
  end
end

-- A waiting job fails because of dependency ``dep`` (its own attempts never ran).
local function fail_waiting(id, jtype, dep, message, now)
  local jk = job_key(id)
  unindex(id, jtype, 'waiting')
  redis.call('HSET', jk, 'state', 'failed', 'error', message, 'failed_by', dep,
    'failed_at', now, 'updated_at', now)
  -- pcall: an errors key written by hand must not stop the walk of the others
  redis.pcall('RPUSH', errors_key(id),
    cjson.encode({attempt = 0, error = message, traceback = '', at = now}))
  index(id, jtype, 'failed', now)
  bump('failed', 1)
  count_minute(now, 'failed')
  emit('event', 'failed', 'id', id, 'type', jtype, 'error', message)
end

-- Dependency ``dep`` failed for good with ``message`` (or was removed, ``removed``):
-- each dependent follows its policy; those that fail take their own dependents with
-- them, level by level (a work list, not recursion: graphs may be deep).
local function dependency_failed(dep, message, now, removed)
  local work, n = {{dep, message, removed}}, 1
  while n <= #work do
    local failed, why, gone = work[n][1], work[n][2], work[n][3]
    n = n + 1
    for _, id in ipairs(members(dependents_key(failed))) do
      local fields = job_fields(id, 'state', 'type', 'on_dep_fail')
      if fields and fields[2] then
        local state, jtype, policy = fields[1], fields[2], fields[3]
        local text = gone and ('dependency ' .. failed .. ' removed')
          or ('dependency ' .. failed .. ' failed: ' .. why)
        local held, released
        if gone then
          -- nothing can come back: it counts as done (a retry of the dependent runs it
          -- without), and whatever the policy a dependent it still held fails now
          held = record(id, failed, 'r')
        elseif policy == 'ignore' then
          held, released = record(id, failed, 'i' .. why)
          if released and state == 'waiting' then release(id, jtype, now) end
          state = nil
        else
          held = record(id, failed, 'f' .. why)
          if policy == 'wait' then state = nil end
        end
        -- a dependency it no longer waited for (completed, then failed by hand) fails nothing
        if held and state == 'waiting' then
          fail_waiting(id, jtype, failed, text, now)
          work[#work + 1] = {id, text, false}
        end
      end
    end
  end
end

-- The first dependency of ``id`` recorded as failed ('f') but ``except``, or nil.
local function other_failure(id, except)
  local outcomes = outcomes_of(id)
  for i = 1, #outcomes, 2 do
    if outcomes[i] ~= except and outcomes[i + 1]:sub(1, 1) == 'f' then return outcomes[i] end
  end
  return nil
end

-- Dependency ``dep`` is being retried: its dependents forget its failure, and those
-- that failed only because of it wait again (with their own dependents).
local function dependency_retried(dep, now)
  local work, n = {dep}, 1
  while n <= #work do
    local retried = work[n]
    n = n + 1
    for _, id in ipairs(members(dependents_key(retried))) do
      local fields = job_fields(id, 'state', 'type', 'failed_by', 'on_dep_fail', 'pending')
      if fields and fields[2] then
        local before = outcome_in(id, retried)
        if before and before:sub(1, 1) == 'f' then redis.call('HDEL', deps_key(id), retried) end
        if fields[1] == 'failed' and fields[3] == tostring(retried) then
          local other = fields[4] ~= 'wait' and other_failure(id, tostring(retried))
          if other then
            redis.call('HSET', job_key(id), 'failed_by', other)
          else
            unindex(id, fields[2], 'failed')
            redis.call('HSET', job_key(id), 'state', 'waiting', 'updated_at', now)
            redis.call('HDEL', job_key(id), 'error', 'failed_at', 'failed_by')
            index(id, fields[2], 'waiting', id)
            emit('event', 'state', 'id', id, 'type', fields[2], 'from', 'failed', 'to', 'waiting')
            -- nothing left to wait for (its other dependencies ended meanwhile): it runs
            if (tonumber(fields[5]) or 0) <= 0 then release(id, fields[2], now) end
            work[#work + 1] = id
          end
        end
      end
    end
  end
end
