-- complete: active jobs' handlers returned; store the results and apply retention. The
-- worker sends the completions that piled up while its previous call was in flight.
-- KEYS[1] events stream
-- ARGV[1] base, ARGV[2] events maxlen, then per job a group of 4: id, fencing token,
-- result (JSON), retention: '' keep, 'all' delete now, 'count:N' keep N newest complete
-- jobs of the type, 'age:MS' delete complete jobs of the type older than MS.
-- Returns one code per job: 0 done (also when this same claim already completed it: a
-- retried call), -1 no such job (or its key is no job hash), -2 the token is stale or the
-- job left 'active'.
-- Its dependents record the result, and those waiting for nothing else are released.
-- Events: complete (id, type, result) per job, ready (id, type, state) per dependent
-- released.
local now = now_ms()
local trims = {} -- complete index of a type -> the retention policy to apply to it
-- Index moves are gathered here and done with one variadic call per key after the
-- loop: per job only its own hash and event are written.
local left = {}    -- ids leaving 'active' (and the leases)
local by_type = {} -- type -> {left = ids, kept = score/id pairs for its complete index}

local function complete(id, token, result, policy)
  local jk = job_key(id)
  local fields = job_fields(id, 'state', 'token', 'type', 'attempts_made', 'started_at',
    'dependents') or {}
  local state, held, jtype = fields[1], fields[2], fields[3]
  if not state or not jtype then return -1 end
  if held ~= token then return -2 end
  if state == 'complete' then return 0 end
  if state ~= 'active' then return -2 end

  redis.call('HSET', jk, 'state', 'complete', 'result', result, 'completed_at', now, 'progress', 100,
    'updated_at', now, 'attempts_made', (tonumber(fields[4]) or 0) + 1)
  emit('event', 'complete', 'id', id, 'type', jtype, 'result', result)
  if fields[6] then dependency_complete(id, result, now) end
  local ran = math.max(0, now - (tonumber(fields[5]) or now))
  bump('work_time', ran)
  bump('completed', 1)
  observe('duration', ran)
  count_minute(now, 'complete')

  local moves = by_type[jtype]
  if not moves then
    moves = {left = {}, kept = {}}
    by_type[jtype] = moves
  end
  left[#left + 1] = id
  moves.left[#moves.left + 1] = id
  if policy == 'all' then
    drop(id)
  else
    moves.kept[#moves.kept + 1] = now
    moves.kept[#moves.kept + 1] = id
    if policy ~= '' then trims[type_state_key(jtype, 'complete')] = policy end
  end
  return 0
end

local function move_indexes()
  if #left == 0 then return end
  in_slices('ZREM', state_key('active'), left)
  in_slices('ZREM', LEASES, left)
  for jtype, moves in pairs(by_type) do
    in_slices('ZREM', type_state_key(jtype, 'active'), moves.left)
    slot_freed(jtype)
    if #moves.kept > 0 then
      in_slices('ZADD', state_key('complete'), moves.kept)
      in_slices('ZADD', type_state_key(jtype, 'complete'), moves.kept)
    end
  end
end

-- Retention runs once per type after the batch, not once per job: jobs of one batch
-- share a timestamp, and a per-job trim would rescan the whole tie each time.
local function trim(typed, policy)
  local doomed = {}
  if policy:sub(1, 6) == 'count:' then
    local excess = redis.call('ZCARD', typed) - tonumber(policy:sub(7))
    -- bounded per call so one call never stalls Redis; later ones trim the rest
    if excess > 0 then
      local n = math.min(excess, 1000)
      local head = redis.call('ZRANGE', typed, 0, n - 1, 'WITHSCORES')
      local edge = head[#head]
      for i = 1, #head, 2 do
        if tonumber(head[i + 1]) < tonumber(edge) then doomed[#doomed + 1] = head[i] end
      end
      -- jobs completed in the same millisecond tie; ZRANGE would order them as strings
      -- ("10" before "9") and could take the newest, so take the lowest ids instead
      local tied = redis.call('ZRANGEBYSCORE', typed, edge, edge)
      table.sort(tied, function(a, b) return tonumber(a) < tonumber(b) end)
      for i = 1, n - #doomed do doomed[#doomed + 1] = tied[i] end
    end
  elseif policy:sub(1, 4) == 'age:' then
    doomed = redis.call('ZRANGEBYSCORE', typed, '-inf', now - tonumber(policy:sub(5)), 'LIMIT', 0, 1000)
  end
  for _, victim in ipairs(doomed) do
    redis.call('ZREM', state_key('complete'), victim)
    redis.call('ZREM', typed, victim)
    drop(victim)
  end
end

local codes = {}
for a = 3, #ARGV, 4 do
  codes[#codes + 1] = complete(ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
end
move_indexes()
for typed, policy in pairs(trims) do trim(typed, policy) end
flush_stats()
return codes
