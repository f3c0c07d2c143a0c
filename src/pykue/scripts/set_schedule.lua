-- set_schedule: create a schedule, or replace the one of the same key, in one step.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] schedule key, ARGV[4] its stored form
-- (JSON written by pykue/schedules.py, with a fresh version), ARGV[5] its first run (ms,
-- server time: the caller computes it from Redis's clock, read just before).
-- Returns {1} created, {0} replaced. Its runs record ('created:updated:last run:last
-- job') keeps its creation and last run across replacements.
-- A worker that planned a run of the replaced form finds another version and makes
-- nothing (fire_schedule.lua).
-- Event: schedule (type, key).
local key, spec = ARGV[3], ARGV[4]
local now = now_ms()
local created, last_run, last_job = tostring(now), '', ''
local runs = redis.call('HGET', SCHEDULE_RUNS, key)
if runs then
  local c, _, r, j = runs:match('^(%d*):(%d*):(%d*):(%d*)$')
  if c and c ~= '' then created, last_run, last_job = c, r, j end
end
local fresh = redis.call('HEXISTS', SCHEDULES, key) == 0
redis.call('HSET', SCHEDULES, key, spec)
redis.call('ZADD', SCHEDULES_DUE, ARGV[5], key)
redis.call('HSET', SCHEDULE_RUNS, key, table.concat({created, now, last_run, last_job}, ':'))
emit('event', 'schedule', 'type', cjson.decode(spec)['type'], 'key', key)
return {fresh and 1 or 0}
