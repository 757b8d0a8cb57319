-- returns 0 when allowed (and records it), else the milliseconds until it would be allowed
local function gcra(key, limit, period_ms, now)
  local interval = period_ms / limit
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period_ms
  if allow_at > now then return math.ceil(allow_at - now) end
  redis.call('SET', key, tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1)
  return 0
end
