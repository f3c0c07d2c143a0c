-- extend_lease: renew the leases a worker still holds (of running jobs and of ended
-- ones whose completion is not yet in).
-- KEYS[1] events stream (routing only; nothing is emitted)
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] lease (ms), then pairs of id, fencing token.
-- Returns the positions (1 for the first pair) of the pairs whose lease is lost (token
-- moved on, job gone or no longer active): by pair, not by id, so that a reply arriving
-- after the job was claimed again is not taken for the newer claim.
local deadline = now_ms() + tonumber(ARGV[3])
-- Renewing moves a score in place and adds no memory. Redis out of memory refuses a
-- ZADD that is a script's first write, and every lease would then expire and its work
-- run again; it checks memory only before a script's first write, and this ZREM of a
-- member that is never there is one that changes nothing.
redis.call('ZREM', LEASES, '')
local lost = {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local fields = job_fields(id, 'state', 'token') or {}
  if fields[1] == 'active' and fields[2] == ARGV[i + 1] then
    redis.call('ZADD', LEASES, deadline, id)
  else
    lost[#lost + 1] = (i - 2) / 2
  end
end
return lost
