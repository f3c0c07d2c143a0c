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
  local fields = redis.call('HMGET', jk, 'unique', 'type', 'debounce')
  local unique, debounce = fields[1], fields[3]
  redis.call('ZREM', ALL_JOBS, id)
  if fields[2] then redis.call('ZREM', type_jobs_key(fields[2]), id) end
  if unique and unique ~= '' and redis.call('HGET', UNIQUE, unique) == tostring(id) then
    redis.call('HDEL', UNIQUE, unique)
  end
  if debounce and debounce ~= '' and redis.call('HGET', DEBOUNCE, debounce) == tostring(id) then
    redis.call('HDEL', DEBOUNCE, debounce)
  end
  redis.call('DEL', jk, log_key(id), errors_key(id))
end


-- Store one new job under ``id`` (``job``: enqueue.lua's entry, see its header) and put
-- it in its state's indexes; the all-jobs indexes, TYPES and the wake-up are the
-- caller's. Returns its state.
local function store_job(job, id, now)
  local jtype, delay, priority = job[1], job[3], job[4]
  local jk = job_key(id)
  local state = delay > 0 and 'delayed' or 'inactive'
  -- zero counters and empty options are left out (readers default them): a smaller
  -- hash is quicker to write and to keep
  redis.call('HSET', jk, 'type', jtype, 'data', job[2], 'state', state, 'priority', priority,
    'attempts', job[5], 'created_at', now, 'updated_at', now)
  if job[6] ~= '' then redis.call('HSET', jk, 'backoff', job[6]) end
  if job[7] ~= 0 then redis.call('HSET', jk, 'ttl', job[7]) end
  if job[8] ~= '' then redis.call('HSET', jk, 'remove', job[8]) end
  if job[9] ~= '' then redis.call('HSET', jk, 'unique', job[9]) end
  -- the entry's last four may be missing (an entry of nine, as pykue wrote before them)
  if (tonumber(job[10]) or 0) > 0 then redis.call('HSET', jk, 'unique_until', now + job[10]) end
  for place, field in pairs({[11] = 'debounce', [12] = 'limit_key', [13] = 'schedule'}) do
    if job[place] and job[place] ~= '' then redis.call('HSET', jk, field, job[place]) end
  end
  if delay > 0 then
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
