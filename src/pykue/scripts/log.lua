-- log: append a line to a job's log, only while the job exists (no orphan lists).
-- KEYS[1] events stream (routing only; nothing is emitted)
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] line
-- Returns {length of the log} or {-1} no such job.
local jk = job_key(ARGV[3])
if redis.call('EXISTS', jk) == 0 then return {-1} end
return {redis.call('RPUSH', log_key(ARGV[3]), ARGV[4])}
