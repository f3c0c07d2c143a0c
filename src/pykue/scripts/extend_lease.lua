-- extend_lease: renew the leases a worker still holds.
-- KEYS[1] events stream (routing only; nothing is emitted)
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] lease (ms), then pairs of id, fencing token.
-- Returns the ids whose lease is lost (token moved on, job gone or no longer active).
local deadline = now_ms() + tonumber(ARGV[3])
local lost = {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local fields = redis.call('HMGET', job_key(id), 'state', 'token')
  if fields[1] == 'active' and fields[2] == ARGV[i + 1] then
    redis.call('ZADD', LEASES, deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
