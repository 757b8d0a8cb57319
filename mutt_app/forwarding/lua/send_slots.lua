-- include mutt_app.core:now_ms
-- KEYS: slots (sorted set), slot sequence ; ARGV: 'take', limit, period_ms, lease_ms, wanted
--   or 'done' / 'cancel', slots... Returns {1, slots...} or {0, ms until a slot may be free}.
local key, seq_key, op = KEYS[1], KEYS[2], ARGV[1]
local now = now_ms()
if op == 'done' then
  for i = 2, #ARGV do redis.call('ZADD', key, 'XX', now, ARGV[i]) end
  return {}
elseif op == 'cancel' then
  for i = 2, #ARGV do redis.call('ZREM', key, ARGV[i]) end
  return {}
end
local limit, period_ms, lease_ms, wanted = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period_ms)
local free = limit - redis.call('ZCARD', key)
if free <= 0 then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, math.min(math.max(tonumber(oldest[2]) + period_ms - now, 1), period_ms)}
end
local granted = {1}
for _ = 1, math.min(free, wanted) do
  local slot = tostring(redis.call('INCR', seq_key))
  redis.call('ZADD', key, now + lease_ms, slot)
  table.insert(granted, slot)
end
redis.call('PEXPIRE', key, period_ms + lease_ms + 1000)
return granted
