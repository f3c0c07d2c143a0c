-- set_limits: change a job type's limits (rate, concurrency cap, rate per limit key).
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] type, ARGV[4] the change as a JSON object
-- (checked by pykue/limits.py): each limit it names is set to its value, or removed
-- when the value is null; a limit it leaves out is kept.
-- Returns the type's limits as stored now (JSON, '' when none is left).
-- The type's idle workers are woken: a limit raised or removed may admit work now.
-- Event: limits (type).
local jtype = ARGV[3]
local limits = {}
local stored = redis.call('HGET', LIMITS, jtype)
if stored then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' then limits = decoded end -- else: written by hand
end
for name, value in pairs(cjson.decode(ARGV[4])) do
  if value == cjson.null then limits[name] = nil else limits[name] = value end
end
local text = ''
if next(limits) == nil then
  redis.call('HDEL', LIMITS, jtype)
else
  text = cjson.encode(limits)
  redis.call('HSET', LIMITS, jtype, text)
end
redis.call('DEL', limited_key(jtype))
if redis.call('ZCARD', type_state_key(jtype, 'inactive')) > 0 then wake(jtype) end
emit('event', 'limits', 'type', jtype)
return text
