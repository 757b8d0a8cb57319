-- Watch these members: each interval (ms) is stored; a member not yet due gets its first deadline
-- a whole interval from now (a source never heard from starts its clock when it is watched).
-- KEYS: watched, due ; ARGV: member, interval pairs
-- include mutt_app.core:now_ms
local now = now_ms()
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], 'NX', now + tonumber(ARGV[i + 1]), ARGV[i])
end
return now
