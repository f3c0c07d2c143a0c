-- fire_schedule: make the job of a schedule's due run, once, and store its next run.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] schedule key, ARGV[4] the version of the
-- stored form the caller planned with, ARGV[5] the run it planned for (ms: the due time
-- it read), ARGV[6] the next run (ms, after ARGV[5]), ARGV[7] '1' to make the job, '0'
-- to skip this run (missed runs without catch-up: see pykue/schedules.py).
-- Compare and set on the run: the job is made only while the schedule's due time is
-- still ARGV[5] and its form still ARGV[4], so of all the workers that read the same due
-- run, one makes its job and the others make nothing.
-- Returns {1, job id (0 when skipped)}, {0, now} not due yet by Redis's clock, {-1} the
-- run was taken, the schedule changed or is gone, {-2} its stored form is not pykue's.
-- The job carries the schedule's key (field 'schedule'); stats 'scheduled' counts it.
-- Event: enqueue (id, type, state) for the job made.
local key, version, due = ARGV[3], ARGV[4], tonumber(ARGV[5])
local spec = redis.call('HGET', SCHEDULES, key)
if not spec then return {-1} end
-- floored as due_schedules.lua's reply is (Redis makes a Lua number an integer): a
-- score written by hand with a fraction still matches the run read
local score = tonumber(redis.call('ZSCORE', SCHEDULES_DUE, key))
if not score or math.floor(score) ~= due then return {-1} end
local ok, decoded = pcall(cjson.decode, spec)
if not ok or type(decoded) ~= 'table' or type(decoded['entry']) ~= 'table' then return {-2} end
if decoded['version'] ~= version then return {-1} end
local now = now_ms()
if due > now then return {0, now} end

local id = 0
if ARGV[7] == '1' then
  local job = decoded['entry']
  job[13] = key
  id = redis.call('INCR', IDS)
  local state = store_job(job, id, now)
  redis.call('ZADD', ALL_JOBS, id, id)
  redis.call('ZADD', type_jobs_key(job[1]), id, id)
  redis.call('SADD', TYPES, job[1])
  wake(job[1])
  emit('event', 'enqueue', 'id', id, 'type', job[1], 'state', state)
  bump('scheduled', 1)
  flush_stats()
end
redis.call('ZADD', SCHEDULES_DUE, ARGV[6], key)
local runs = redis.call('HGET', SCHEDULE_RUNS, key) or ''
local created, updated = runs:match('^(%d*):(%d*):')
redis.call('HSET', SCHEDULE_RUNS, key, table.concat(
  {created or '', updated or '', now, id > 0 and id or ''}, ':'))
return {1, id}
