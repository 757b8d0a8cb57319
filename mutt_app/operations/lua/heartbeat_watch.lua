-- Watch these members with their intervals (ms). A member not yet due gets its first deadline a
-- whole interval from now (a source never heard from starts its clock when it is watched); one
-- whose interval changed has its deadline moved by the difference (last heard from + new interval).
-- KEYS: watched, due ; ARGV: member, interval pairs
-- include mutt_app.core:now_ms
local now = now_ms()
for i = 1, #ARGV, 2 do
  local member, interval = ARGV[i], tonumber(ARGV[i + 1])
  local old = tonumber(redis.call('HGET', KEYS[1], member))
  redis.call('HSET', KEYS[1], member, interval)
  local due = tonumber(redis.call('ZSCORE', KEYS[2], member))
  if due and old and old ~= interval then
    redis.call('ZADD', KEYS[2], due + interval - old, member)
  elseif not due then
    redis.call('ZADD', KEYS[2], now + interval, member)
  end
end
return now
