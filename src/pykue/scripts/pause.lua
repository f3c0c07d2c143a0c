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
-- one literal name per emit: the loader checks each against pykue/event_names.py
if changed == 1 and ARGV[4] == '1' then emit('event', 'pause', 'type', jtype) end
if changed == 1 and ARGV[4] ~= '1' then emit('event', 'resume', 'type', jtype) end
return {changed}
