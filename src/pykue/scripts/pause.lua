-- pause: stop (ARGV[4] = '1') or restart (ARGV[4] = '0') the claiming of one job type.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] type, ARGV[4] '1' pause / '0' resume
-- Returns {1} if the setting changed, {0} if it already was so.
-- Event: pause or resume (type).
local jtype = ARGV[3]
local changed
if ARGV[4] == '1' then
  changed = redis.call('SADD', PAUSED, jtype)
else
  changed = redis.call('SREM', PAUSED, jtype)
  if redis.call('ZCARD', type_state_key(jtype, 'inactive')) > 0 then wake(jtype) end
end
if changed == 1 then emit('event', ARGV[4] == '1' and 'pause' or 'resume', 'type', jtype) end
return {changed}
