-- remove: delete a job in any state, with its log, errors and index entries.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, ARGV[3] id, ARGV[4] '1' to remove it even while
-- jobs wait for it (they then fail: 'dependency ID removed')
-- Returns {0} removed, {-1} no such job, or {-4, 'id, id...'} (nothing changed): jobs
-- wait for it and ARGV[4] is not '1'. A worker running it loses its lease.
-- Events: remove (id, type), and failed (id, type, error) per dependent that fails.
local id = ARGV[3]
local fields = redis.call('HMGET', job_key(id), 'state', 'type', 'dependents')
if not fields[1] then return {-1} end
if fields[3] then
  local waiting = {}
  for _, dependent in ipairs(members(dependents_key(id))) do
    local outcome = redis.pcall('HGET', deps_key(dependent), id)
    if redis.call('EXISTS', job_key(dependent)) == 1
        and not done(type(outcome) == 'string' and outcome or nil) then
      waiting[#waiting + 1] = tonumber(dependent)
    end
  end
  if #waiting > 0 then
    if ARGV[4] ~= '1' then
      table.sort(waiting)
      return {-4, table.concat(waiting, ', ', 1, math.min(#waiting, 20))}
    end
    dependency_failed(id, '', now_ms(), true)
  end
end
unindex(id, fields[2], fields[1])
drop(id)
emit('event', 'remove', 'id', id, 'type', fields[2])
flush_stats()
return {0}
